// The policy oracle against NetworkPolicy semantics (networking.k8s.io/v1 API
// reference and the "Network Policies" concept page). Policies are written as
// manifests and go through the decoder, so API defaulting (policyTypes,
// protocol) is the real one, not a test's idea of it.
#include "control/policy_oracle.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "k8s/decode.h"

namespace kubedp::control {
namespace {

using ::testing::ElementsAre;

PolicyPeerRef PodRef(std::string key) {
  return {.pod = std::move(key)};
}
PolicyPeerRef Address(std::string ip) {
  return {.ip = std::move(ip)};
}
PolicyPeerRef NodeRef(std::string ip) {
  return {.ip = std::move(ip), .is_node = true};
}

k8s::ContainerPort Port(std::string name, int32_t number, std::string protocol = "TCP") {
  return {.name = std::move(name), .port = number, .protocol = std::move(protocol)};
}

// A small cluster built in code: namespaces and pods by hand, policies as
// manifests through the decoder.
class Cluster {
 public:
  Cluster& Namespace(const std::string& name, k8s::Labels labels = {}) {
    k8s::Namespace ns;
    ns.meta.name = name;
    ns.meta.labels = std::move(labels);
    state.Add(ns);
    return *this;
  }

  // key is "namespace/name".
  Cluster& Pod(const std::string& key, const std::string& ip, k8s::Labels labels = {},
               std::vector<k8s::ContainerPort> ports = {}) {
    state.Add(MakePod(key, ip, std::move(labels), std::move(ports)));
    return *this;
  }

  Cluster& HostNetworkPod(const std::string& key, const std::string& ip, k8s::Labels labels = {}) {
    k8s::Pod pod = MakePod(key, ip, std::move(labels), {});
    pod.host_network = true;
    state.Add(pod);
    return *this;
  }

  // spec is the policy's spec in YAML flow style: "{podSelector: {}}".
  Cluster& Policy(const std::string& ns, const std::string& name, std::string_view spec) {
    std::string text =
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: " + name +
        ", namespace: " + ns + "}\nspec: " + std::string(spec) + "\n";
    Result<k8s::DecodeOutput> out = k8s::DecodeManifests(text, "policy.yaml");
    if (!out.ok()) {
      ADD_FAILURE() << out.status().message();
      return *this;
    }
    for (auto& object : out->objects) state.Add(std::move(object));
    return *this;
  }

  PolicyVerdict Check(PolicyPeerRef source, PolicyPeerRef destination, int port,
                      std::string protocol = "TCP") const {
    return EvaluatePolicy(state, {.source = std::move(source),
                                  .destination = std::move(destination),
                                  .port = port,
                                  .protocol = std::move(protocol)});
  }
  bool Allowed(const std::string& from, const std::string& to, int port,
               std::string protocol = "TCP") const {
    return Check(PodRef(from), PodRef(to), port, std::move(protocol)).allowed;
  }

  k8s::ClusterState state;

 private:
  static k8s::Pod MakePod(const std::string& key, const std::string& ip, k8s::Labels labels,
                          std::vector<k8s::ContainerPort> ports) {
    k8s::Pod pod;
    size_t slash = key.find('/');
    pod.meta.namespace_ = key.substr(0, slash);
    pod.meta.name = key.substr(slash + 1);
    pod.meta.labels = std::move(labels);
    pod.node_name = "node-1";
    pod.phase = "Running";
    pod.pod_ip = ip;
    pod.pod_ips = {ip};
    pod.ready = true;
    pod.ports = std::move(ports);
    return pod;
  }
};

// Two namespaces with a web and a db pod in prod, a client in dev.
Cluster Basic() {
  Cluster c;
  c.Namespace("prod", {{"env", "prod"}})
      .Namespace("dev", {{"env", "dev"}})
      .Pod("prod/web", "10.244.0.10", {{"app", "web"}})
      .Pod("prod/db", "10.244.0.11", {{"app", "db"}}, {Port("pg", 5432)})
      .Pod("dev/client", "10.244.0.20", {{"app", "client"}});
  return c;
}

// ---------------------------------------------------------------------------
// Isolation

TEST(PolicyOracle, NoPolicyAllowsEverything) {
  Cluster c = Basic();
  PolicyVerdict v = c.Check(PodRef("dev/client"), PodRef("prod/db"), 5432);
  EXPECT_TRUE(v.allowed);
  EXPECT_FALSE(v.egress.isolated);
  EXPECT_FALSE(v.ingress.isolated);
  EXPECT_TRUE(v.egress.allowed_by.empty());
  EXPECT_EQ(v.reason, "allowed: no policy isolates egress of dev/client or ingress of prod/db");
}

TEST(PolicyOracle, EmptyPodSelectorIsolatesTheWholeNamespace) {
  Cluster c = Basic();
  c.Policy("prod", "deny-all", "{podSelector: {}}");
  EXPECT_FALSE(c.Allowed("dev/client", "prod/db", 5432));
  EXPECT_FALSE(c.Allowed("dev/client", "prod/web", 80));
  // Only pods of the policy's own namespace are selected.
  EXPECT_TRUE(c.Allowed("prod/web", "dev/client", 80));
  PolicyVerdict v = c.Check(PodRef("prod/web"), PodRef("prod/db"), 5432);
  EXPECT_TRUE(v.ingress.isolated);
  EXPECT_THAT(v.ingress.isolating_policies, ElementsAre("prod/deny-all"));
  EXPECT_EQ(v.reason,
            "denied: ingress of prod/db is isolated by prod/deny-all and no ingress rule allows "
            "TCP 5432 from prod/web");
}

TEST(PolicyOracle, PodSelectorSelectsOnlyMatchingPods) {
  Cluster c = Basic();
  c.Policy("prod", "db-deny", "{podSelector: {matchLabels: {app: db}}}");
  EXPECT_FALSE(c.Allowed("prod/web", "prod/db", 5432));
  EXPECT_TRUE(c.Allowed("prod/db", "prod/web", 80));
  EXPECT_THAT(PoliciesSelecting(c.state, "prod/db"), ElementsAre("prod/db-deny"));
  EXPECT_TRUE(PoliciesSelecting(c.state, "prod/web").empty());
  EXPECT_TRUE(PoliciesSelecting(c.state, "prod/nope").empty());
}

TEST(PolicyOracle, PolicyTypesDefaultIngressOnlyDoesNotIsolateEgress) {
  // No policyTypes and no egress rules: the API defaults to [Ingress].
  Cluster c = Basic();
  c.Policy("prod", "ingress-only", "{podSelector: {}, ingress: [{ports: [{port: 80}]}]}");
  PolicyVerdict v = c.Check(PodRef("prod/web"), PodRef("dev/client"), 443);
  EXPECT_TRUE(v.allowed);
  EXPECT_FALSE(v.egress.isolated);
  EXPECT_TRUE(c.Check(PodRef("dev/client"), PodRef("prod/web"), 80).ingress.isolated);
}

TEST(PolicyOracle, PolicyTypesDefaultEgressRulesIsolateEgress) {
  // No policyTypes but egress rules: the API defaults to [Ingress, Egress].
  Cluster c = Basic();
  c.Policy("prod", "egress-dns",
           "{podSelector: {}, egress: [{ports: [{port: 53, protocol: UDP}]}]}");
  PolicyVerdict v = c.Check(PodRef("prod/web"), PodRef("dev/client"), 80);
  EXPECT_FALSE(v.allowed);
  EXPECT_TRUE(v.egress.isolated);
  EXPECT_TRUE(c.Allowed("prod/web", "dev/client", 53, "UDP"));
  // Ingress is isolated too, and with no ingress rules nothing gets in.
  EXPECT_TRUE(c.Check(PodRef("dev/client"), PodRef("prod/web"), 80).ingress.isolated);
  EXPECT_FALSE(c.Allowed("dev/client", "prod/web", 80));
}

TEST(PolicyOracle, ExplicitEgressTypeDoesNotIsolateIngress) {
  Cluster c = Basic();
  c.Policy("prod", "egress-deny", "{podSelector: {}, policyTypes: [Egress]}");
  EXPECT_TRUE(c.Allowed("dev/client", "prod/web", 80));
  PolicyVerdict v = c.Check(PodRef("prod/web"), PodRef("dev/client"), 80);
  EXPECT_FALSE(v.allowed);
  EXPECT_TRUE(v.egress.isolated);
  EXPECT_FALSE(v.ingress.isolated);
  EXPECT_EQ(v.reason,
            "denied: egress of prod/web is isolated by prod/egress-deny and no egress rule allows "
            "TCP 80 to dev/client");
}

TEST(PolicyOracle, EmptyRuleListDeniesAll) {
  Cluster c = Basic();
  c.Policy("prod", "lockdown", "{podSelector: {}, policyTypes: [Ingress, Egress], ingress: []}");
  EXPECT_FALSE(c.Allowed("prod/web", "prod/db", 5432));
  EXPECT_FALSE(c.Allowed("prod/web", "dev/client", 80));
  EXPECT_FALSE(c.Check(Address("192.0.2.1"), PodRef("prod/web"), 80).allowed);
  EXPECT_FALSE(c.Check(PodRef("prod/web"), Address("192.0.2.1"), 80).allowed);
}

TEST(PolicyOracle, RuleWithoutPeersMatchesAllPeers) {
  Cluster c = Basic();
  c.Policy("prod", "open-80", "{podSelector: {}, ingress: [{ports: [{port: 80}]}]}");
  EXPECT_TRUE(c.Allowed("dev/client", "prod/web", 80));
  EXPECT_TRUE(c.Check(Address("198.51.100.7"), PodRef("prod/web"), 80).allowed);
  EXPECT_FALSE(c.Allowed("dev/client", "prod/web", 81));
}

TEST(PolicyOracle, RuleWithoutPortsMatchesAllPorts) {
  Cluster c = Basic();
  c.Policy("prod", "from-web",
           "{podSelector: {}, ingress: [{from: [{podSelector: {matchLabels: {app: web}}}]}]}");
  EXPECT_TRUE(c.Allowed("prod/web", "prod/db", 1));
  EXPECT_TRUE(c.Allowed("prod/web", "prod/db", 65535, "UDP"));
  EXPECT_TRUE(c.Allowed("prod/web", "prod/db", 9, "SCTP"));
}

TEST(PolicyOracle, EmptyRuleMatchesEverything) {
  Cluster c = Basic();
  c.Policy("prod", "allow-all", "{podSelector: {}, ingress: [{}]}");
  EXPECT_TRUE(c.Allowed("dev/client", "prod/db", 1234, "UDP"));
  EXPECT_TRUE(c.Check(Address("203.0.113.9"), PodRef("prod/db"), 22).allowed);
}

// ---------------------------------------------------------------------------
// Peers

TEST(PolicyOracle, PodSelectorPeerIsLimitedToThePolicyNamespace) {
  Cluster c = Basic();
  c.Pod("dev/web", "10.244.0.21", {{"app", "web"}});
  c.Policy("prod", "from-web",
           "{podSelector: {matchLabels: {app: db}}, "
           "ingress: [{from: [{podSelector: {matchLabels: {app: web}}}]}]}");
  EXPECT_TRUE(c.Allowed("prod/web", "prod/db", 5432));
  EXPECT_FALSE(c.Allowed("dev/web", "prod/db", 5432));
}

TEST(PolicyOracle, EmptyPodSelectorPeerMeansEveryPodOfThePolicyNamespace) {
  Cluster c = Basic();
  c.Policy("prod", "same-ns", "{podSelector: {}, ingress: [{from: [{podSelector: {}}]}]}");
  EXPECT_TRUE(c.Allowed("prod/web", "prod/db", 5432));
  EXPECT_FALSE(c.Allowed("dev/client", "prod/db", 5432));
}

TEST(PolicyOracle, NamespaceSelectorPeerSelectsEveryPodOfMatchingNamespaces) {
  Cluster c = Basic();
  c.Namespace("qa", {{"env", "qa"}}).Pod("qa/tester", "10.244.0.30", {{"app", "tester"}});
  c.Policy(
      "prod", "from-dev",
      "{podSelector: {}, ingress: [{from: [{namespaceSelector: {matchLabels: {env: dev}}}]}]}");
  EXPECT_TRUE(c.Allowed("dev/client", "prod/db", 5432));
  EXPECT_FALSE(c.Allowed("qa/tester", "prod/db", 5432));
  // The policy's own namespace is not implied.
  EXPECT_FALSE(c.Allowed("prod/web", "prod/db", 5432));
}

TEST(PolicyOracle, EmptyNamespaceSelectorPeerSelectsEveryPod) {
  Cluster c = Basic();
  c.Policy("prod", "from-pods", "{podSelector: {}, ingress: [{from: [{namespaceSelector: {}}]}]}");
  EXPECT_TRUE(c.Allowed("dev/client", "prod/db", 5432));
  EXPECT_TRUE(c.Allowed("prod/web", "prod/db", 5432));
  EXPECT_FALSE(c.Check(Address("192.0.2.50"), PodRef("prod/db"), 5432).allowed);
}

TEST(PolicyOracle, NamespaceAndPodSelectorTogetherAreAnded) {
  Cluster c = Basic();
  c.Pod("dev/web", "10.244.0.21", {{"app", "web"}});
  c.Policy("prod", "dev-web",
           "{podSelector: {}, ingress: [{from: [{namespaceSelector: {matchLabels: {env: dev}}, "
           "podSelector: {matchLabels: {app: web}}}]}]}");
  EXPECT_TRUE(c.Allowed("dev/web", "prod/db", 5432));
  EXPECT_FALSE(c.Allowed("dev/client", "prod/db", 5432));  // right namespace, wrong pod
  EXPECT_FALSE(c.Allowed("prod/web", "prod/db", 5432));    // right pod, wrong namespace
}

TEST(PolicyOracle, SeparatePeersAreOred) {
  Cluster c = Basic();
  c.Pod("dev/web", "10.244.0.21", {{"app", "web"}});
  c.Policy("prod", "dev-or-web",
           "{podSelector: {}, ingress: [{from: [{namespaceSelector: {matchLabels: {env: dev}}}, "
           "{podSelector: {matchLabels: {app: web}}}]}]}");
  EXPECT_TRUE(c.Allowed("dev/client", "prod/db", 5432));
  EXPECT_TRUE(c.Allowed("prod/web", "prod/db", 5432));
}

TEST(PolicyOracle, ImplicitMetadataNameLabelSelectsANamespaceByName) {
  Cluster c = Basic();
  c.Namespace("tools").Pod("tools/probe", "10.244.0.40", {{"app", "probe"}});
  c.Policy("prod", "from-tools",
           "{podSelector: {}, ingress: [{from: [{namespaceSelector: "
           "{matchLabels: {kubernetes.io/metadata.name: tools}}}]}]}");
  EXPECT_TRUE(c.Allowed("tools/probe", "prod/db", 5432));
  EXPECT_FALSE(c.Allowed("dev/client", "prod/db", 5432));
}

TEST(PolicyOracle, ImplicitMetadataNameLabelWithoutANamespaceObject) {
  Cluster c = Basic();
  c.Pod("orphan/app", "10.244.0.41", {{"app", "x"}});
  c.Policy("prod", "from-orphan",
           "{podSelector: {}, ingress: [{from: [{namespaceSelector: "
           "{matchLabels: {kubernetes.io/metadata.name: orphan}}}]}]}");
  EXPECT_TRUE(c.Allowed("orphan/app", "prod/db", 5432));
}

// One peer per operator; each test has a pod that matches and one that does not.
Cluster ExpressionCluster(std::string_view expression) {
  Cluster c = Basic();
  c.Pod("prod/canary", "10.244.0.12", {{"app", "web"}, {"track", "canary"}});
  c.Pod("prod/stable", "10.244.0.13", {{"app", "web"}, {"track", "stable"}});
  c.Pod("prod/bare", "10.244.0.14", {{"app", "tool"}});
  c.Policy("prod", "expr",
           "{podSelector: {matchLabels: {app: db}}, ingress: [{from: [{podSelector: "
           "{matchExpressions: [" +
               std::string(expression) + "]}}]}]}");
  return c;
}

TEST(PolicyOracle, MatchExpressionInPeer) {
  Cluster c = ExpressionCluster("{key: track, operator: In, values: [canary]}");
  EXPECT_TRUE(c.Allowed("prod/canary", "prod/db", 5432));
  EXPECT_FALSE(c.Allowed("prod/stable", "prod/db", 5432));
  EXPECT_FALSE(c.Allowed("prod/bare", "prod/db", 5432));
}

TEST(PolicyOracle, MatchExpressionNotInPeerMatchesAbsentKey) {
  Cluster c = ExpressionCluster("{key: track, operator: NotIn, values: [canary]}");
  EXPECT_FALSE(c.Allowed("prod/canary", "prod/db", 5432));
  EXPECT_TRUE(c.Allowed("prod/stable", "prod/db", 5432));
  EXPECT_TRUE(c.Allowed("prod/bare", "prod/db", 5432));
}

TEST(PolicyOracle, MatchExpressionExistsInPeer) {
  Cluster c = ExpressionCluster("{key: track, operator: Exists}");
  EXPECT_TRUE(c.Allowed("prod/canary", "prod/db", 5432));
  EXPECT_TRUE(c.Allowed("prod/stable", "prod/db", 5432));
  EXPECT_FALSE(c.Allowed("prod/bare", "prod/db", 5432));
}

TEST(PolicyOracle, MatchExpressionDoesNotExistInPeer) {
  Cluster c = ExpressionCluster("{key: track, operator: DoesNotExist}");
  EXPECT_FALSE(c.Allowed("prod/canary", "prod/db", 5432));
  EXPECT_TRUE(c.Allowed("prod/bare", "prod/db", 5432));
}

TEST(PolicyOracle, MatchExpressionInNamespaceSelectorPeer) {
  Cluster c = Basic();
  c.Namespace("qa", {{"env", "qa"}}).Pod("qa/tester", "10.244.0.30");
  c.Policy("prod", "non-prod",
           "{podSelector: {}, ingress: [{from: [{namespaceSelector: {matchExpressions: "
           "[{key: env, operator: In, values: [dev, qa]}]}}]}]}");
  EXPECT_TRUE(c.Allowed("dev/client", "prod/db", 5432));
  EXPECT_TRUE(c.Allowed("qa/tester", "prod/db", 5432));
  EXPECT_FALSE(c.Allowed("prod/web", "prod/db", 5432));
}

TEST(PolicyOracle, IpBlockWithExcept) {
  Cluster c = Basic();
  c.Policy("prod", "from-block",
           "{podSelector: {}, ingress: [{from: [{ipBlock: {cidr: 192.168.0.0/16, "
           "except: [192.168.1.0/24]}}]}]}");
  EXPECT_TRUE(c.Check(Address("192.168.0.1"), PodRef("prod/db"), 5432).allowed);
  EXPECT_TRUE(c.Check(Address("192.168.255.255"), PodRef("prod/db"), 5432).allowed);
  EXPECT_TRUE(c.Check(Address("192.168.2.0"), PodRef("prod/db"), 5432).allowed);
  EXPECT_FALSE(c.Check(Address("192.168.1.0"), PodRef("prod/db"), 5432).allowed);
  EXPECT_FALSE(c.Check(Address("192.168.1.255"), PodRef("prod/db"), 5432).allowed);
  EXPECT_FALSE(c.Check(Address("192.169.0.1"), PodRef("prod/db"), 5432).allowed);
  EXPECT_FALSE(c.Check(Address(""), PodRef("prod/db"), 5432).allowed);
}

TEST(PolicyOracle, IpBlockMatchesPodIps) {
  Cluster c = Basic();
  c.Policy("prod", "from-pod-range",
           "{podSelector: {matchLabels: {app: db}}, ingress: [{from: [{ipBlock: "
           "{cidr: 10.244.0.16/28}}]}]}");
  // dev/client is 10.244.0.20, prod/web 10.244.0.10; the pod IP comes from
  // the pod's status when the query leaves it empty.
  EXPECT_TRUE(c.Allowed("dev/client", "prod/db", 5432));
  EXPECT_FALSE(c.Allowed("prod/web", "prod/db", 5432));
}

TEST(PolicyOracle, IpBlockEgressMatchesDestinationAddress) {
  Cluster c = Basic();
  c.Policy("prod", "to-internet",
           "{podSelector: {}, policyTypes: [Egress], egress: [{to: [{ipBlock: {cidr: 0.0.0.0/0, "
           "except: [10.0.0.0/8]}}]}]}");
  EXPECT_TRUE(c.Check(PodRef("prod/web"), Address("8.8.8.8"), 443).allowed);
  EXPECT_FALSE(c.Check(PodRef("prod/web"), Address("10.1.2.3"), 443).allowed);
  EXPECT_FALSE(c.Allowed("prod/web", "dev/client", 80));  // pod IP in the excepted range
}

TEST(PolicyOracle, IpBlockWithHostBitsSetStillMatches) {
  Cluster c = Basic();
  c.Policy("prod", "host-bits",
           "{podSelector: {}, ingress: [{from: [{ipBlock: {cidr: 172.16.5.9/16}}]}]}");
  EXPECT_TRUE(c.Check(Address("172.16.200.1"), PodRef("prod/db"), 5432).allowed);
  EXPECT_FALSE(c.Check(Address("172.17.0.1"), PodRef("prod/db"), 5432).allowed);
}

TEST(PolicyOracle, NonPodSourceIsMatchedOnlyByIpBlock) {
  Cluster c = Basic();
  c.Policy("prod", "from-all-pods",
           "{podSelector: {}, ingress: [{from: [{podSelector: {}, namespaceSelector: {}}]}]}");
  PolicyVerdict v = c.Check(Address("10.244.0.99"), PodRef("prod/db"), 5432);
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.reason,
            "denied: ingress of prod/db is isolated by prod/from-all-pods and no ingress rule "
            "allows TCP 5432 from 10.244.0.99");
  // A pod key that is not in the state is a plain address as well.
  EXPECT_FALSE(c.Check({.pod = "prod/gone", .ip = "10.244.0.98"}, PodRef("prod/db"), 5432).allowed);
  c.Policy("prod", "from-block",
           "{podSelector: {}, ingress: [{from: [{ipBlock: {cidr: 10.244.0.96/30}}]}]}");
  EXPECT_TRUE(c.Check(Address("10.244.0.99"), PodRef("prod/db"), 5432).allowed);
}

// ---------------------------------------------------------------------------
// Ports

TEST(PolicyOracle, NumericPort) {
  Cluster c = Basic();
  c.Policy("prod", "pg", "{podSelector: {}, ingress: [{ports: [{port: 5432}]}]}");
  EXPECT_TRUE(c.Allowed("prod/web", "prod/db", 5432));
  EXPECT_FALSE(c.Allowed("prod/web", "prod/db", 5433));
  EXPECT_FALSE(c.Allowed("prod/web", "prod/db", 5431));
}

TEST(PolicyOracle, EndPortRangeIsInclusiveAtBothEnds) {
  Cluster c = Basic();
  c.Policy("prod", "range",
           "{podSelector: {}, ingress: [{ports: [{port: 32000, endPort: 32768}]}]}");
  EXPECT_FALSE(c.Allowed("prod/web", "prod/db", 31999));
  EXPECT_TRUE(c.Allowed("prod/web", "prod/db", 32000));
  EXPECT_TRUE(c.Allowed("prod/web", "prod/db", 32400));
  EXPECT_TRUE(c.Allowed("prod/web", "prod/db", 32768));
  EXPECT_FALSE(c.Allowed("prod/web", "prod/db", 32769));
}

TEST(PolicyOracle, ProtocolOnlyEntryMatchesEveryPortOfTheProtocol) {
  Cluster c = Basic();
  c.Policy("prod", "udp", "{podSelector: {}, ingress: [{ports: [{protocol: UDP}]}]}");
  EXPECT_TRUE(c.Allowed("prod/web", "prod/db", 1, "UDP"));
  EXPECT_TRUE(c.Allowed("prod/web", "prod/db", 65535, "UDP"));
  EXPECT_FALSE(c.Allowed("prod/web", "prod/db", 53, "TCP"));
}

TEST(PolicyOracle, ProtocolDefaultsToTcp) {
  Cluster c = Basic();
  c.Policy("prod", "dns", "{podSelector: {}, ingress: [{ports: [{port: 53}]}]}");
  EXPECT_TRUE(c.Allowed("prod/web", "prod/db", 53, "TCP"));
  EXPECT_FALSE(c.Allowed("prod/web", "prod/db", 53, "UDP"));
}

TEST(PolicyOracle, UdpRuleDoesNotAllowTcp) {
  Cluster c = Basic();
  c.Policy("prod", "dns", "{podSelector: {}, ingress: [{ports: [{port: 53, protocol: UDP}]}]}");
  EXPECT_TRUE(c.Allowed("prod/web", "prod/db", 53, "UDP"));
  EXPECT_FALSE(c.Allowed("prod/web", "prod/db", 53, "TCP"));
  EXPECT_TRUE(c.Allowed("prod/web", "prod/db", 53, "udp"));  // query protocol case is ignored
}

TEST(PolicyOracle, NamedPortResolvesPerDestinationPod) {
  Cluster c = Basic();
  c.Pod("prod/api-a", "10.244.0.50", {{"app", "api"}}, {Port("http", 8080)})
      .Pod("prod/api-b", "10.244.0.51", {{"app", "api"}},
           {Port("metrics", 9000), Port("http", 9090)});
  c.Policy("prod", "http",
           "{podSelector: {matchLabels: {app: api}}, ingress: [{ports: [{port: http}]}]}");
  EXPECT_TRUE(c.Allowed("dev/client", "prod/api-a", 8080));
  EXPECT_FALSE(c.Allowed("dev/client", "prod/api-a", 9090));
  EXPECT_TRUE(c.Allowed("dev/client", "prod/api-b", 9090));
  EXPECT_FALSE(c.Allowed("dev/client", "prod/api-b", 8080));
  EXPECT_FALSE(c.Allowed("dev/client", "prod/api-b", 9000));
}

TEST(PolicyOracle, NamedPortNeedsTheSameProtocol) {
  Cluster c = Basic();
  c.Pod("prod/dns", "10.244.0.53", {{"app", "dns"}}, {Port("dns", 53, "UDP"), Port("dns-tcp", 53)});
  c.Policy("prod", "dns",
           "{podSelector: {matchLabels: {app: dns}}, ingress: [{ports: [{port: dns}]}]}");
  // The entry's protocol defaults to TCP, and "dns" is a UDP container port.
  EXPECT_FALSE(c.Allowed("dev/client", "prod/dns", 53, "TCP"));
  EXPECT_FALSE(c.Allowed("dev/client", "prod/dns", 53, "UDP"));
  c.Policy(
      "prod", "dns-udp",
      "{podSelector: {matchLabels: {app: dns}}, ingress: [{ports: [{port: dns, protocol: UDP}]}]}");
  EXPECT_TRUE(c.Allowed("dev/client", "prod/dns", 53, "UDP"));
}

TEST(PolicyOracle, NamedPortInEgressResolvesAgainstTheDestinationPod) {
  Cluster c = Basic();
  c.Pod("dev/api", "10.244.0.60", {{"app", "api"}}, {Port("http", 8080)});
  c.Policy("prod", "egress-http",
           "{podSelector: {matchLabels: {app: web}}, policyTypes: [Egress], "
           "egress: [{ports: [{port: http}]}]}");
  // prod/web declares no "http" port: the destination's own ports count.
  EXPECT_TRUE(c.Allowed("prod/web", "dev/api", 8080));
  EXPECT_FALSE(c.Allowed("prod/web", "dev/api", 80));
  EXPECT_FALSE(c.Allowed("prod/web", "dev/client", 8080));
}

TEST(PolicyOracle, NamedPortNeverMatchesANonPodDestination) {
  Cluster c = Basic();
  c.Pod("prod/api", "10.244.0.50", {{"app", "web"}}, {Port("http", 8080)});
  c.Policy("prod", "egress-http",
           "{podSelector: {matchLabels: {app: web}}, policyTypes: [Egress], "
           "egress: [{ports: [{port: http}]}]}");
  // Not even when the source itself names the port.
  EXPECT_FALSE(c.Check(PodRef("prod/api"), Address("203.0.113.5"), 8080).allowed);
  EXPECT_FALSE(c.Check(PodRef("prod/api"), Address("203.0.113.5"), 80).allowed);
}

TEST(PolicyOracle, SctpOnlyPolicyStillIsolatesTcpAndUdp) {
  Cluster c = Basic();
  c.Policy("prod", "sctp", "{podSelector: {}, ingress: [{ports: [{port: 9999, protocol: SCTP}]}]}");
  EXPECT_TRUE(c.Allowed("prod/web", "prod/db", 9999, "SCTP"));
  PolicyVerdict tcp = c.Check(PodRef("prod/web"), PodRef("prod/db"), 9999, "TCP");
  EXPECT_FALSE(tcp.allowed);
  EXPECT_TRUE(tcp.ingress.isolated);
  EXPECT_FALSE(c.Allowed("prod/web", "prod/db", 9999, "UDP"));
}

// ---------------------------------------------------------------------------
// Combining

TEST(PolicyOracle, PoliciesAddUp) {
  Cluster c = Basic();
  c.Policy("prod", "deny-all", "{podSelector: {}}");
  c.Policy("prod", "allow-web",
           "{podSelector: {matchLabels: {app: db}}, ingress: [{from: [{podSelector: "
           "{matchLabels: {app: web}}}], ports: [{port: 5432}]}]}");
  c.Policy("prod", "allow-dev",
           "{podSelector: {matchLabels: {app: db}}, ingress: [{from: [{namespaceSelector: "
           "{matchLabels: {env: dev}}}]}]}");
  EXPECT_TRUE(c.Allowed("prod/web", "prod/db", 5432));
  EXPECT_FALSE(c.Allowed("prod/web", "prod/db", 22));
  EXPECT_TRUE(c.Allowed("dev/client", "prod/db", 22));
  // A deny-all never takes away what another policy allows.
  PolicyVerdict v = c.Check(PodRef("prod/web"), PodRef("prod/db"), 5432);
  EXPECT_THAT(v.ingress.isolating_policies,
              ElementsAre("prod/allow-dev", "prod/allow-web", "prod/deny-all"));
  EXPECT_EQ(v.reason, "allowed by ingress rule 0 of prod/allow-web");
}

TEST(PolicyOracle, EgressAndIngressAreBothNeeded) {
  Cluster c = Basic();
  c.Policy("dev", "egress-lockdown", "{podSelector: {}, policyTypes: [Egress]}");
  c.Policy("prod", "db-from-dev",
           "{podSelector: {matchLabels: {app: db}}, ingress: [{from: [{namespaceSelector: "
           "{matchLabels: {env: dev}}}]}]}");
  // Ingress of prod/db allows dev, but dev's egress is locked down.
  PolicyVerdict v = c.Check(PodRef("dev/client"), PodRef("prod/db"), 5432);
  EXPECT_FALSE(v.allowed);
  EXPECT_FALSE(v.egress.allowed);
  EXPECT_TRUE(v.ingress.allowed);
  EXPECT_EQ(v.reason,
            "denied: egress of dev/client is isolated by dev/egress-lockdown and no egress rule "
            "allows TCP 5432 to prod/db");

  c.Policy("dev", "egress-to-db",
           "{podSelector: {}, policyTypes: [Egress], egress: [{to: [{namespaceSelector: "
           "{matchLabels: {env: prod}}, podSelector: {matchLabels: {app: db}}}]}]}");
  v = c.Check(PodRef("dev/client"), PodRef("prod/db"), 5432);
  EXPECT_TRUE(v.allowed);
  EXPECT_EQ(v.reason,
            "allowed by egress rule 0 of dev/egress-to-db and ingress rule 0 of prod/db-from-dev");

  // Egress allowed but ingress not: prod/web has no ingress rule for dev.
  c.Policy("prod", "deny-all", "{podSelector: {}}");
  c.Policy("dev", "egress-all", "{podSelector: {}, policyTypes: [Egress], egress: [{}]}");
  v = c.Check(PodRef("dev/client"), PodRef("prod/web"), 80);
  EXPECT_FALSE(v.allowed);
  EXPECT_TRUE(v.egress.allowed);
  EXPECT_FALSE(v.ingress.allowed);
}

TEST(PolicyOracle, BothDirectionsDeniedNamesBoth) {
  Cluster c = Basic();
  c.Policy("dev", "lockdown", "{podSelector: {}, policyTypes: [Egress]}");
  c.Policy("prod", "deny-all", "{podSelector: {}}");
  PolicyVerdict v = c.Check(PodRef("dev/client"), PodRef("prod/db"), 5432);
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.reason,
            "denied: egress of dev/client is isolated by dev/lockdown and no egress rule allows "
            "TCP 5432 to prod/db, and ingress of prod/db is isolated by prod/deny-all and no "
            "ingress rule allows TCP 5432 from dev/client");
}

TEST(PolicyOracle, AllowedByListsEveryMatchingRule) {
  Cluster c = Basic();
  c.Policy("prod", "a",
           "{podSelector: {}, ingress: [{ports: [{port: 1}]}, {ports: [{port: 5432}]}, {}]}");
  c.Policy("prod", "b",
           "{podSelector: {matchLabels: {app: db}}, ingress: [{from: [{podSelector: {}}]}, "
           "{from: [{ipBlock: {cidr: 10.0.0.0/8}}]}]}");
  c.Policy("prod", "c", "{podSelector: {matchLabels: {app: web}}, ingress: [{}]}");
  PolicyVerdict v = c.Check(PodRef("prod/web"), PodRef("prod/db"), 5432);
  EXPECT_TRUE(v.allowed);
  EXPECT_THAT(v.ingress.isolating_policies, ElementsAre("prod/a", "prod/b"));
  EXPECT_THAT(v.ingress.allowed_by,
              ElementsAre(RuleMatch{"prod/a", "ingress", 1}, RuleMatch{"prod/a", "ingress", 2},
                          RuleMatch{"prod/b", "ingress", 0}, RuleMatch{"prod/b", "ingress", 1}));
  EXPECT_EQ(v.reason, "allowed by ingress rule 1 of prod/a");
}

// ---------------------------------------------------------------------------
// Always-allowed traffic and host networking

TEST(PolicyOracle, PodToItselfIsAllowedUnderDenyAll) {
  Cluster c = Basic();
  c.Policy("prod", "lockdown", "{podSelector: {}, policyTypes: [Ingress, Egress]}");
  PolicyVerdict v = c.Check(PodRef("prod/db"), PodRef("prod/db"), 5432);
  EXPECT_TRUE(v.allowed);
  EXPECT_TRUE(v.ingress.isolated);
  EXPECT_TRUE(v.ingress.allowed);
  EXPECT_TRUE(v.egress.allowed);
  EXPECT_EQ(v.reason,
            "allowed: traffic from prod/db to itself is always allowed (a pod cannot block access "
            "to itself)");
  // The same pod reached by its address.
  EXPECT_TRUE(c.Check(PodRef("prod/db"), Address("10.244.0.11"), 5432).allowed);
  EXPECT_FALSE(c.Check(PodRef("prod/db"), Address("10.244.0.12"), 5432).allowed);
}

TEST(PolicyOracle, NodeToLocalPodIsAllowed) {
  Cluster c = Basic();
  c.Policy("prod", "deny-all", "{podSelector: {}}");
  PolicyVerdict v = c.Check(NodeRef("192.168.10.1"), PodRef("prod/db"), 8080);
  EXPECT_TRUE(v.allowed);
  EXPECT_TRUE(v.ingress.isolated);
  EXPECT_TRUE(v.ingress.allowed_by.empty());
  EXPECT_EQ(v.reason, "allowed: traffic from the node to its local pod prod/db is always allowed");
  EXPECT_NE(FormatVerdict(v).find("no rule matches, but the connection is always allowed"),
            std::string::npos);
  // The same address without is_node is an ordinary outside address.
  EXPECT_FALSE(c.Check(Address("192.168.10.1"), PodRef("prod/db"), 8080).allowed);
}

TEST(PolicyOracle, PodToItsNodeIsAllowed) {
  Cluster c = Basic();
  c.Policy("prod", "lockdown", "{podSelector: {}, policyTypes: [Egress]}");
  PolicyVerdict v = c.Check(PodRef("prod/web"), NodeRef("192.168.10.1"), 10250);
  EXPECT_TRUE(v.allowed);
  EXPECT_EQ(v.reason, "allowed: traffic from prod/web to its own node is always allowed");
}

TEST(PolicyOracle, HostNetworkPodIsNeverIsolated) {
  Cluster c = Basic();
  c.HostNetworkPod("prod/agent", "192.168.10.1", {{"app", "db"}});
  c.Policy("prod", "lockdown", "{podSelector: {}, policyTypes: [Ingress, Egress]}");
  PolicyVerdict v = c.Check(PodRef("dev/client"), PodRef("prod/agent"), 9100);
  EXPECT_TRUE(v.allowed);
  EXPECT_FALSE(v.ingress.isolated);
  EXPECT_FALSE(c.Check(PodRef("prod/agent"), PodRef("dev/client"), 80).egress.isolated);
  EXPECT_TRUE(PoliciesSelecting(c.state, "prod/agent").empty());
}

TEST(PolicyOracle, HostNetworkPodIsAPlainAddressToSelectors) {
  Cluster c = Basic();
  c.HostNetworkPod("prod/agent", "192.168.10.1", {{"app", "web"}});
  c.Policy("prod", "from-web",
           "{podSelector: {matchLabels: {app: db}}, ingress: [{from: [{podSelector: "
           "{matchLabels: {app: web}}}]}]}");
  EXPECT_FALSE(c.Allowed("prod/agent", "prod/db", 5432));
  c.Policy("prod", "from-nodes",
           "{podSelector: {matchLabels: {app: db}}, ingress: [{from: [{ipBlock: "
           "{cidr: 192.168.10.0/24}}]}]}");
  EXPECT_TRUE(c.Allowed("prod/agent", "prod/db", 5432));
}

TEST(PolicyOracle, NeitherSideAPod) {
  Cluster c = Basic();
  c.Policy("prod", "deny-all", "{podSelector: {}}");
  PolicyVerdict v = c.Check(Address("192.0.2.1"), Address("192.0.2.2"), 80);
  EXPECT_TRUE(v.allowed);
  EXPECT_EQ(v.reason, "allowed: neither side is a pod subject to NetworkPolicy");
}

TEST(PolicyOracle, PoliciesSelectingIgnoresDirection) {
  Cluster c = Basic();
  c.Policy("prod", "in", "{podSelector: {}}");
  c.Policy("prod", "out", "{podSelector: {matchLabels: {app: db}}, policyTypes: [Egress]}");
  c.Policy("dev", "other", "{podSelector: {}}");
  EXPECT_THAT(PoliciesSelecting(c.state, "prod/db"), ElementsAre("prod/in", "prod/out"));
  EXPECT_THAT(PoliciesSelecting(c.state, "prod/web"), ElementsAre("prod/in"));
}

TEST(PolicyOracle, FormatVerdictShowsBothDirections) {
  Cluster c = Basic();
  c.Policy("prod", "deny-all", "{podSelector: {}}");
  c.Policy("prod", "allow-web",
           "{podSelector: {matchLabels: {app: db}}, ingress: [{from: [{podSelector: "
           "{matchLabels: {app: web}}}]}]}");
  EXPECT_EQ(FormatVerdict(c.Check(PodRef("prod/web"), PodRef("prod/db"), 5432)),
            "verdict: ALLOWED\n"
            "reason:  allowed by ingress rule 0 of prod/allow-web\n"
            "egress of the source:       not isolated\n"
            "ingress of the destination: isolated by prod/allow-web, prod/deny-all\n"
            "    allowed by ingress rule 0 of prod/allow-web\n");
  EXPECT_EQ(FormatVerdict(c.Check(PodRef("dev/client"), PodRef("prod/db"), 5432)),
            "verdict: DENIED\n"
            "reason:  denied: ingress of prod/db is isolated by prod/allow-web, prod/deny-all and "
            "no ingress rule allows TCP 5432 from dev/client\n"
            "egress of the source:       not isolated\n"
            "ingress of the destination: isolated by prod/allow-web, prod/deny-all\n"
            "    no rule allows the connection\n");
}

}  // namespace
}  // namespace kubedp::control
