// The service table against kube-proxy's semantics: frontends per Service
// address and port, backends from EndpointSlices matched by port name and
// protocol, KEP-1669 endpoint selection and traffic policies. Objects are
// manifests through the decoder, so API defaulting is the real one.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "common/cluster_state.h"
#include "common/ip.h"
#include "control/services.h"
#include "k8s/decode.h"

namespace kubedp::control {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

k8s::ClusterState Load(std::string_view yaml) {
  return testing::LoadState(yaml);
}

uint32_t Ip(std::string_view text) {
  Result<uint32_t> ip = ParseIpv4(text);
  EXPECT_TRUE(ip.ok()) << text;
  return ip.ok() ? *ip : 0;
}

std::vector<std::string> Pods(const std::vector<Backend>& backends) {
  std::vector<std::string> pods;
  for (const Backend& backend : backends) pods.push_back(backend.pod);
  return pods;
}

Backend MakeBackend(std::string pod, std::string node, bool ready, bool serving, bool terminating) {
  return {.ip = 0,
          .port = 80,
          .ready = ready,
          .serving = serving,
          .terminating = terminating,
          .node_name = std::move(node),
          .pod = std::move(pod)};
}

// A slice for Service `service` with one endpoint per (address, pod, node,
// conditions) line.
std::string SliceYaml(std::string_view name, std::string_view service, std::string_view endpoints,
                      std::string_view ports = "[{port: 8080}]") {
  return "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: " +
         std::string(name) +
         "\n  namespace: default\n  labels: {kubernetes.io/service-name: " + std::string(service) +
         "}\naddressType: IPv4\nendpoints:\n" + std::string(endpoints) +
         "ports: " + std::string(ports) + "\n";
}

TEST(CompileServices, ReadyBackendsFirstThenServingTerminatingOnes) {
  k8s::ClusterState state = Load(R"(
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  clusterIP: 10.96.0.10
  ports: [{port: 80, targetPort: 8080}]
)" + SliceYaml("web-1", "web", R"(
- addresses: [10.244.1.2]
  conditions: {ready: true, serving: true, terminating: false}
  targetRef: {kind: Pod, namespace: default, name: ready}
- addresses: [10.244.1.3]
  conditions: {ready: false, serving: true, terminating: true}
  targetRef: {kind: Pod, namespace: default, name: draining}
- addresses: [10.244.1.4]
  conditions: {ready: false, serving: false, terminating: true}
  targetRef: {kind: Pod, namespace: default, name: dying}
- addresses: [10.244.1.5]
  conditions: {ready: false, serving: false, terminating: false}
  targetRef: {kind: Pod, namespace: default, name: starting}
)"));

  ServiceTable table = CompileServices(state);
  ASSERT_THAT(table.errors, IsEmpty());
  ASSERT_THAT(table.frontends, SizeIs(1));
  Frontend frontend = table.frontends[0];
  // Every known backend is kept, with its conditions.
  EXPECT_THAT(Pods(frontend.backends), ElementsAre("default/ready", "default/draining",
                                                   "default/dying", "default/starting"));
  EXPECT_THAT(Pods(UsableBackends(frontend, false, "node-a")), ElementsAre("default/ready"));

  // The ready one goes away: the serving terminating one takes new
  // connections (KEP-1669) rather than the traffic being dropped.
  frontend.backends.erase(frontend.backends.begin());
  EXPECT_THAT(Pods(UsableBackends(frontend, false, "node-a")), ElementsAre("default/draining"));

  // Nothing serving: nothing usable.
  frontend.backends.erase(frontend.backends.begin());
  EXPECT_THAT(UsableBackends(frontend, false, "node-a"), IsEmpty());
}

// EndpointConditions API reference: ready nil is ready, serving nil defers to
// ready, terminating nil is not terminating.
TEST(CompileServices, MissingConditionsAreReadAsTheApiSays) {
  k8s::ClusterState state = Load(R"(
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  clusterIP: 10.96.0.10
  ports: [{port: 80, targetPort: 8080}]
)" + SliceYaml("web-1", "web", R"(
- addresses: [10.244.1.2]
- addresses: [10.244.1.3]
  conditions: {ready: false}
)"));

  ServiceTable table = CompileServices(state);
  ASSERT_THAT(table.frontends, SizeIs(1));
  EXPECT_THAT(
      table.frontends[0].backends,
      ElementsAre(Backend{.ip = Ip("10.244.1.2"), .port = 8080, .ready = true, .serving = true},
                  Backend{.ip = Ip("10.244.1.3"), .port = 8080}));
}

TEST(UsableBackends, LocalTrafficPolicyKeepsOnlyTheNodesBackends) {
  Frontend node_port{.kind = FrontendKind::kNodePort, .port = 30080, .external_local = true};
  node_port.backends = {MakeBackend("a", "node-a", true, true, false),
                        MakeBackend("b", "node-b", true, true, false),
                        MakeBackend("a-old", "node-a", false, true, true)};

  // External traffic under externalTrafficPolicy Local: this node's only.
  EXPECT_THAT(Pods(UsableBackends(node_port, true, "node-a")), ElementsAre("a"));
  EXPECT_THAT(Pods(UsableBackends(node_port, true, "node-b")), ElementsAre("b"));
  EXPECT_THAT(UsableBackends(node_port, true, "node-c"), IsEmpty());
  EXPECT_THAT(UsableBackends(node_port, true, ""), IsEmpty());
  // Pod traffic to the same frontend uses the Cluster policy.
  EXPECT_THAT(Pods(UsableBackends(node_port, false, "node-c")), ElementsAre("a", "b"));

  // The terminating fallback is per node: node-a lost its ready backend while
  // node-b still has one.
  node_port.backends.erase(node_port.backends.begin());
  EXPECT_THAT(Pods(UsableBackends(node_port, true, "node-a")), ElementsAre("a-old"));
  EXPECT_THAT(Pods(UsableBackends(node_port, false, "node-a")), ElementsAre("b"));

  // internalTrafficPolicy Local on a ClusterIP applies wherever the traffic
  // comes from.
  Frontend cluster_ip{.kind = FrontendKind::kClusterIP, .port = 80, .internal_local = true};
  cluster_ip.backends = {MakeBackend("a", "node-a", true, true, false),
                         MakeBackend("b", "node-b", true, true, false)};
  EXPECT_THAT(Pods(UsableBackends(cluster_ip, false, "node-b")), ElementsAre("b"));
  EXPECT_THAT(Pods(UsableBackends(cluster_ip, true, "node-b")), ElementsAre("b"));
}

TEST(CompileServices, TrafficPoliciesLandOnTheRightFrontends) {
  k8s::ClusterState state = Load(R"(
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  type: NodePort
  clusterIP: 10.96.0.10
  externalTrafficPolicy: Local
  internalTrafficPolicy: Local
  ports: [{port: 80, nodePort: 30080}]
---
apiVersion: v1
kind: Service
metadata: {name: plain, namespace: default}
spec:
  clusterIP: 10.96.0.11
  externalIPs: [192.0.2.7]
  externalTrafficPolicy: Local
  ports: [{port: 80}]
)");
  ServiceTable table = CompileServices(state);
  ASSERT_THAT(table.frontends, SizeIs(4));
  // plain (ClusterIP with externalIPs is externally accessible).
  EXPECT_EQ(table.frontends[0].kind, FrontendKind::kClusterIP);
  EXPECT_FALSE(table.frontends[0].external_local);
  EXPECT_FALSE(table.frontends[0].internal_local);
  EXPECT_EQ(table.frontends[1].kind, FrontendKind::kExternalIP);
  EXPECT_TRUE(table.frontends[1].external_local);
  // web
  EXPECT_EQ(table.frontends[2].kind, FrontendKind::kClusterIP);
  EXPECT_TRUE(table.frontends[2].internal_local);
  EXPECT_FALSE(table.frontends[2].external_local);
  EXPECT_EQ(table.frontends[3].kind, FrontendKind::kNodePort);
  EXPECT_TRUE(table.frontends[3].external_local);
  EXPECT_FALSE(table.frontends[3].internal_local);
}

TEST(CompileServices, NodePortLoadBalancerAndExternalIpFrontends) {
  k8s::ClusterState state = Load(R"(
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  type: LoadBalancer
  clusterIP: 10.96.0.10
  clusterIPs: [10.96.0.10, "fd00::10"]
  externalIPs: [192.0.2.7]
  ports:
  - {name: http, port: 80, targetPort: 8080, nodePort: 30080}
  - {name: dns, port: 53, protocol: UDP, nodePort: 30053}
status:
  loadBalancer:
    ingress: [{ip: 203.0.113.9}, {hostname: lb.example.com}]
---
apiVersion: v1
kind: Service
metadata: {name: internal, namespace: default}
spec:
  clusterIP: 10.96.0.11
  ports: [{port: 80, nodePort: 30081}]
)");
  ServiceTable table = CompileServices(state);
  EXPECT_THAT(table.errors, IsEmpty());

  struct Row {
    FrontendKind kind;
    std::string ip;
    uint16_t port;
    uint8_t protocol;
    std::string service;
    bool operator==(const Row&) const = default;
  };
  std::vector<Row> rows;
  for (const Frontend& f : table.frontends) {
    rows.push_back({f.kind, FormatIpv4(f.ip), f.port, f.protocol, f.service});
  }
  // A ClusterIP Service gets no node port even with nodePort set; the IPv6
  // cluster IP and the hostname-only ingress are not programmed.
  EXPECT_THAT(rows,
              ElementsAre(Row{FrontendKind::kClusterIP, "10.96.0.11", 80, 6, "default/internal"},
                          Row{FrontendKind::kClusterIP, "10.96.0.10", 80, 6, "default/web"},
                          Row{FrontendKind::kClusterIP, "10.96.0.10", 53, 17, "default/web"},
                          Row{FrontendKind::kNodePort, "0.0.0.0", 30080, 6, "default/web"},
                          Row{FrontendKind::kNodePort, "0.0.0.0", 30053, 17, "default/web"},
                          Row{FrontendKind::kLoadBalancer, "203.0.113.9", 80, 6, "default/web"},
                          Row{FrontendKind::kLoadBalancer, "203.0.113.9", 53, 17, "default/web"},
                          Row{FrontendKind::kExternalIP, "192.0.2.7", 80, 6, "default/web"},
                          Row{FrontendKind::kExternalIP, "192.0.2.7", 53, 17, "default/web"}));
}

TEST(CompileServices, SlicePortsMatchServicePortsByNameAndProtocol) {
  k8s::ClusterState state = Load(
      R"(
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  clusterIP: 10.96.0.10
  ports:
  - {name: http, port: 80, targetPort: 8080}
  - {name: metrics, port: 9100}
  - {name: dns, port: 53, protocol: UDP}
)" +
      SliceYaml("web-1", "web", "- addresses: [10.244.1.2]\n",
                "[{name: metrics, port: 19100}, {name: dns, port: 5353}, "
                "{name: http, port: 18080}, {name: dns, port: 1053, protocol: UDP}]") +
      SliceYaml("web-2", "web", "- addresses: [10.244.1.3]\n",
                "[{name: http, port: 28080}, {name: http}]") +
      SliceYaml("other", "other", "- addresses: [10.244.1.4]\n", "[{name: http, port: 38080}]"));
  ServiceTable table = CompileServices(state);
  ASSERT_THAT(table.frontends, SizeIs(3));
  auto ports = [](const Frontend& f) {
    std::vector<std::pair<std::string, uint16_t>> out;
    for (const Backend& b : f.backends) out.emplace_back(FormatIpv4(b.ip), b.port);
    return out;
  };
  using P = std::pair<std::string, uint16_t>;
  EXPECT_EQ(table.frontends[0].port_name, "http");
  // web-2's port without a number is ignored, as kube-proxy does.
  EXPECT_THAT(ports(table.frontends[0]),
              ElementsAre(P{"10.244.1.2", 18080}, P{"10.244.1.3", 28080}));
  EXPECT_EQ(table.frontends[1].port_name, "metrics");
  EXPECT_THAT(ports(table.frontends[1]), ElementsAre(P{"10.244.1.2", 19100}));
  // The TCP "dns" slice port does not serve the UDP Service port.
  EXPECT_EQ(table.frontends[2].port_name, "dns");
  EXPECT_THAT(ports(table.frontends[2]), ElementsAre(P{"10.244.1.2", 1053}));
}

TEST(CompileServices, DuplicateEndpointsAcrossSlicesAreOneBackend) {
  k8s::ClusterState state = Load(R"(
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  clusterIP: 10.96.0.10
  ports: [{port: 80, targetPort: 8080}]
)" + SliceYaml("web-1", "web", "- addresses: [10.244.1.9]\n- addresses: [10.244.1.2]\n") +
                                 SliceYaml("web-2", "web", "- addresses: [10.244.1.2]\n"));
  ServiceTable table = CompileServices(state);
  ASSERT_THAT(table.frontends, SizeIs(1));
  ASSERT_THAT(table.frontends[0].backends, SizeIs(2));
  EXPECT_EQ(table.frontends[0].backends[0].ip, Ip("10.244.1.2"));
  EXPECT_EQ(table.frontends[0].backends[1].ip, Ip("10.244.1.9"));
}

TEST(CompileServices, ConflictingFrontendsStayWithTheFirstServiceAndNameBoth) {
  k8s::ClusterState state = Load(R"(
apiVersion: v1
kind: Service
metadata: {name: a, namespace: default}
spec:
  type: NodePort
  clusterIP: 10.96.0.10
  ports: [{name: http, port: 80, nodePort: 30080}]
---
apiVersion: v1
kind: Service
metadata: {name: b, namespace: default}
spec:
  type: NodePort
  clusterIP: 10.96.0.11
  externalIPs: [10.96.0.10]
  ports:
  - {name: web, port: 80, nodePort: 30080}
  - {name: dns, port: 80, protocol: UDP}
---
apiVersion: v1
kind: Service
metadata: {name: c, namespace: default}
spec:
  type: LoadBalancer
  clusterIP: 10.96.0.12
  externalIPs: [203.0.113.9]
  ports: [{port: 443, nodePort: 30443}]
status:
  loadBalancer:
    ingress: [{ip: 203.0.113.9}]
)");
  ServiceTable table = CompileServices(state);
  EXPECT_THAT(
      table.errors,
      ElementsAre("Service default/b port \"web\": NodePort 30080/TCP is already taken by Service "
                  "default/a port \"http\" (NodePort 30080/TCP); default/b does not get it",
                  "Service default/b port \"web\": ExternalIP 10.96.0.10:80/TCP is already taken "
                  "by Service default/a port \"http\" (ClusterIP 10.96.0.10:80/TCP); default/b "
                  "does not get it"));
  std::vector<std::string> rows;
  for (const Frontend& f : table.frontends) {
    rows.push_back(f.service + " " + std::string(FrontendKindName(f.kind)) + " " +
                   FormatIpv4(f.ip) + ":" + std::to_string(f.port) + "/" +
                   std::to_string(f.protocol));
  }
  // b keeps what is its own (UDP on the same IP:port is another frontend); c's
  // external IP that is also its load balancer IP is one frontend, no error.
  EXPECT_THAT(
      rows, ElementsAre(
                "default/a ClusterIP 10.96.0.10:80/6", "default/a NodePort 0.0.0.0:30080/6",
                "default/b ClusterIP 10.96.0.11:80/6", "default/b ClusterIP 10.96.0.11:80/17",
                "default/b ExternalIP 10.96.0.10:80/17", "default/c ClusterIP 10.96.0.12:443/6",
                "default/c NodePort 0.0.0.0:30443/6", "default/c LoadBalancer 203.0.113.9:443/6"));
}

TEST(CompileServices, BadAddressesAreReportedAndLeftOut) {
  k8s::ClusterState state = Load(R"(
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  clusterIP: 10.96.0.10
  externalIPs: [192.0.2.300, 192.0.2.7]
  ports: [{port: 80}]
)" + SliceYaml("web-1", "web", "- addresses: [10.244.1.2]\n- addresses: [10.244.01.3]\n",
               "[{port: 80}]"));
  ServiceTable table = CompileServices(state);
  EXPECT_THAT(table.errors,
              ElementsAre("EndpointSlice default/web-1: endpoints[1].addresses[0] \"10.244.01.3\" "
                          "is not an IPv4 address; endpoint left out",
                          "Service default/web: spec.externalIPs[0] \"192.0.2.300\" is not an IPv4 "
                          "address; not programmed"));
  ASSERT_THAT(table.frontends, SizeIs(2));
  EXPECT_EQ(table.frontends[1].ip, Ip("192.0.2.7"));
  ASSERT_THAT(table.frontends[1].backends, SizeIs(1));
  EXPECT_EQ(table.frontends[1].backends[0].ip, Ip("10.244.1.2"));
}

TEST(CompileServices, ClientIpAffinityCarriesItsTimeout) {
  k8s::ClusterState state = Load(R"(
apiVersion: v1
kind: Service
metadata: {name: custom, namespace: default}
spec:
  clusterIP: 10.96.0.10
  sessionAffinity: ClientIP
  sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: defaulted, namespace: default}
spec:
  clusterIP: 10.96.0.11
  sessionAffinity: ClientIP
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: none, namespace: default}
spec:
  clusterIP: 10.96.0.12
  sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}
  ports: [{port: 80}]
)");
  ServiceTable table = CompileServices(state);
  ASSERT_THAT(table.frontends, SizeIs(3));
  EXPECT_EQ(table.frontends[0].service, "default/custom");
  EXPECT_EQ(table.frontends[0].affinity_timeout_seconds, 60u);
  EXPECT_EQ(table.frontends[1].service, "default/defaulted");
  EXPECT_EQ(table.frontends[1].affinity_timeout_seconds, 10800u);  // the API default
  EXPECT_EQ(table.frontends[2].service, "default/none");
  EXPECT_EQ(table.frontends[2].affinity_timeout_seconds, 0u);
}

TEST(CompileServices, LoadBalancingAlgorithmFromTheAnnotation) {
  k8s::ClusterState state = Load(R"(
apiVersion: v1
kind: Service
metadata:
  name: a-maglev
  namespace: default
  annotations: {kubedp.io/lb-algorithm: maglev}
spec: {clusterIP: 10.96.0.10, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata:
  name: b-random
  namespace: default
  annotations: {kubedp.io/lb-algorithm: random}
spec: {clusterIP: 10.96.0.11, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata:
  name: c-typo
  namespace: default
  annotations: {kubedp.io/lb-algorithm: maglve}
spec: {clusterIP: 10.96.0.12, ports: [{port: 80}]}
)");
  ServiceTable table = CompileServices(state);
  ASSERT_THAT(table.frontends, SizeIs(3));
  EXPECT_EQ(table.frontends[0].algorithm, LbAlgorithm::kMaglev);
  EXPECT_EQ(table.frontends[1].algorithm, LbAlgorithm::kRandom);
  EXPECT_EQ(table.frontends[2].algorithm, LbAlgorithm::kDefault);
  EXPECT_THAT(table.errors,
              ElementsAre("Service default/c-typo: annotation kubedp.io/lb-algorithm \"maglve\" is "
                          "not random or maglev; the node's default applies"));
}

}  // namespace
}  // namespace kubedp::control
