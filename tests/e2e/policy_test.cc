// NetworkPolicy on the wire: for each scenario, every pod probes every port of
// every pod, and what got through must be exactly what the oracle says. Then
// the same for random clusters with random policies (fixed seeds).
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "common/ip.h"
#include "common/random_cluster.h"
#include "e2e/lab_fixture.h"
#include "lab/probe.h"
#include "netdev/netdev.h"

namespace kubedp {
namespace {

using testing::AgentCall;

constexpr int kProbeTimeoutMs = 300;

struct Scenario {
  const char* name;
  const char* policies;  // YAML documents
};

// Scenarios in the style of the Kubernetes network policy e2e model.
const Scenario kScenarios[] = {
    {"deny_all_ingress_in_x", R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: x}
spec: {podSelector: {}}
)"},
    {"allow_from_namespace_y_on_80", R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-y, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: y}}}], ports: [{port: 80}]}]
)"},
    {"named_port_from_pods_b_anywhere", R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: named, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {}, podSelector: {matchLabels: {pod: b}}}], ports: [{port: alt}]}]
)"},
    {"egress_only_dns_and_named_http", R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: out, namespace: y}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress:
    - ports: [{port: 53, protocol: UDP}]
    - to: [{podSelector: {}}]
      ports: [{port: http}]
)"},
    {"ip_block_with_except_and_end_port", R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: block, namespace: x}
spec:
  podSelector: {matchLabels: {pod: b}}
  ingress:
    - from: [{ipBlock: {cidr: 10.244.3.0/24, except: [10.244.3.4/31]}}]
      ports: [{port: 80, endPort: 81}]
)"},
};

class PolicyOnTheWire : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { testing::UpLab("e2e-pol", "policy-model.yaml", &lab_); }
  static void TearDownTestSuite() { EXPECT_TRUE(lab::Down(lab_).ok()); }

  // Writes the policies where the agent reads cluster state and waits until
  // it has compiled them into the datapath.
  static void ApplyPolicies(const std::string& yaml, size_t count) {
    uint64_t before = AgentCall(lab_, "status")["policy"].value("revision", 0ull);
    auto start = std::chrono::steady_clock::now();
    std::string dir = lab::LabDir(lab_) + "/nodes/node1/manifests";
    std::ifstream current(dir + "/policies.yaml");
    std::string in_force((std::istreambuf_iterator<char>(current)),
                         std::istreambuf_iterator<char>());
    // The same policies again change nothing, so there is nothing new to wait for.
    if (in_force == yaml) return;
    std::ofstream(dir + "/policies.yaml.tmp") << yaml;
    std::rename((dir + "/policies.yaml.tmp").c_str(), (dir + "/policies.yaml").c_str());
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      api::Json status = AgentCall(lab_, "status");
      if (status["policy"].value("revision", 0ull) > before &&
          status["cluster"].value("network_policies", 0u) == count) {
        EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1))
            << "a policy edit is live within a second";
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "agent did not apply " << count << " policies within 5s";
  }

  static std::string lab_;
};
std::string PolicyOnTheWire::lab_;

void ExpectWireMatchesOracle(const std::string& lab, const std::string& what) {
  auto cells = lab::ProbeMatrix(lab, kProbeTimeoutMs);
  ASSERT_TRUE(cells.ok()) << cells.status().message();
  size_t allowed = 0, denied = 0;
  for (const auto& cell : *cells) {
    EXPECT_EQ(cell.observed, cell.expected)
        << what << ": " << cell.from << " -> " << cell.to << ":" << cell.port << "/"
        << cell.protocol << " expected " << (cell.expected ? "allowed" : "denied") << " ("
        << cell.detail << ")";
    (cell.expected ? allowed : denied)++;
  }
  EXPECT_GT(allowed, 0u) << what << ": the scenario allows something";
  ::testing::Test::RecordProperty(what + "_denied", static_cast<int>(denied));
}

TEST_F(PolicyOnTheWire, ScenariosMatchTheOracle) {
  for (const Scenario& scenario : kScenarios) {
    ApplyPolicies(scenario.policies, 1);
    ExpectWireMatchesOracle(lab_, scenario.name);
  }
  std::string all;
  for (const Scenario& scenario : kScenarios) all += std::string("---\n") + scenario.policies;
  ApplyPolicies(all, std::size(kScenarios));
  ExpectWireMatchesOracle(lab_, "all_scenarios_together");
}

// Relabelling a namespace changes who a namespaceSelector admits, for new
// connections, as soon as the agent reads it.
TEST_F(PolicyOnTheWire, NamespaceRelabelTakesEffect) {
  ApplyPolicies(kScenarios[1].policies, 1);  // x/a admits namespace ns=y on port 80
  std::string dir = lab::LabDir(lab_) + "/nodes/node1/manifests";
  uint64_t before = AgentCall(lab_, "status")["policy"].value("revision", 0ull);
  auto start = std::chrono::steady_clock::now();
  // A later file redefines namespace y with another label (the last file wins).
  std::ofstream(dir + "/zz-relabel.yaml.tmp")
      << "apiVersion: v1\nkind: Namespace\nmetadata: {name: y, labels: {ns: elsewhere}}\n";
  std::rename((dir + "/zz-relabel.yaml.tmp").c_str(), (dir + "/zz-relabel.yaml").c_str());
  while (AgentCall(lab_, "status")["policy"].value("revision", 0ull) == before &&
         std::chrono::steady_clock::now() - start < std::chrono::seconds(5)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  auto cells = lab::ProbeMatrix(lab_, kProbeTimeoutMs);
  ASSERT_TRUE(cells.ok());
  for (const auto& cell : *cells) {
    if (cell.from.rfind("y/", 0) == 0 && cell.to == "x/a" && cell.port == 80) {
      EXPECT_FALSE(cell.expected) << "the oracle sees the new label";
      EXPECT_FALSE(cell.observed) << cell.from << " is no longer admitted";
    }
    EXPECT_EQ(cell.observed, cell.expected) << cell.from << " -> " << cell.to << ":" << cell.port;
  }
  std::remove((dir + "/zz-relabel.yaml").c_str());
}

// A broken policy is named with its reason, and the policies in force stay.
TEST_F(PolicyOnTheWire, InvalidPolicyIsRejectedAndTheRestKeepsWorking) {
  ApplyPolicies(kScenarios[0].policies, 1);
  std::string dir = lab::LabDir(lab_) + "/nodes/node1/manifests";
  std::ofstream(dir + "/broken-policy.yaml") << R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: bad-range, namespace: y}
spec:
  podSelector: {}
  ingress: [{ports: [{port: 90, endPort: 80}]}]
)";
  api::Json errors;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (errors.empty() && std::chrono::steady_clock::now() < deadline) {
    errors = AgentCall(lab_, "status")["manifest_errors"];
    if (errors.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(errors.size(), 1u);
  std::string message = errors[0]["message"];
  EXPECT_NE(message.find("NetworkPolicy y/bad-range"), std::string::npos) << message;
  EXPECT_NE(message.find("endPort"), std::string::npos) << message;
  ExpectWireMatchesOracle(lab_, "with_a_rejected_policy");
  std::remove((dir + "/broken-policy.yaml").c_str());
}

// The node reaches its pods whatever their policy (kubelet probes).
TEST_F(PolicyOnTheWire, NodeReachesPodsUnderDenyAll) {
  ApplyPolicies(kScenarios[0].policies, 1);
  auto state = lab::LoadState(lab_);
  ASSERT_TRUE(state.ok());
  std::string ip;
  for (const auto& pod : (*state)["pods"]) {
    if (pod["namespace"] == "x" && pod["name"] == "a") ip = pod["ip"];
  }
  auto guard = netdev::NetnsGuard::Enter("/run/netns/" + lab::NodeNetns(lab_, "node1"));
  ASSERT_TRUE(guard.ok());
  lab::ProbeResult result = lab::Probe({*ParseIpv4(ip), 80, "TCP"}, 1000);
  EXPECT_TRUE(result.connected) << result.error;
  EXPECT_EQ(result.answered_by, "x/a");
}

// Egress to a Service is judged on the backend the datapath chose: x/alt is
// 10.96.3.10:80 in front of x/a:81.
TEST_F(PolicyOnTheWire, EgressToAServiceIsJudgedOnTheBackend) {
  auto connect_from_y_b = [] {
    auto state = lab::LoadState(lab_);
    std::string netns;
    for (const auto& pod : (*state)["pods"]) {
      if (pod["namespace"] == "y" && pod["name"] == "b") netns = pod["netns"];
    }
    auto guard = netdev::NetnsGuard::Enter("/run/netns/" + netns);
    EXPECT_TRUE(guard.ok());
    return lab::Probe({*ParseIpv4("10.96.3.10"), 80, "TCP"}, kProbeTimeoutMs);
  };
  const char* kEgress = R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: egress-port, namespace: y}
spec:
  podSelector: {matchLabels: {pod: b}}
  policyTypes: [Egress]
  egress: [{ports: [{port: PORT}]}]
)";
  std::string to_backend_port = kEgress;
  to_backend_port.replace(to_backend_port.find("PORT"), 4, "81");
  ApplyPolicies(to_backend_port, 1);
  lab::ProbeResult allowed = connect_from_y_b();
  EXPECT_TRUE(allowed.connected) << "allowed: the backend's port is 81";
  EXPECT_EQ(allowed.answered_by, "x/a");

  std::string to_service_port = kEgress;
  to_service_port.replace(to_service_port.find("PORT"), 4, "80");
  ApplyPolicies(to_service_port, 1);
  EXPECT_FALSE(connect_from_y_b().connected) << "denied: port 80 is only the Service's port";
}

TEST_F(PolicyOnTheWire, RemovingPoliciesOpensEverythingAgain) {
  ApplyPolicies(kScenarios[0].policies, 1);
  ApplyPolicies("", 0);
  auto cells = lab::ProbeMatrix(lab_, kProbeTimeoutMs);
  ASSERT_TRUE(cells.ok());
  for (const auto& cell : *cells) EXPECT_TRUE(cell.observed) << cell.from << " -> " << cell.to;
}

// Random clusters and policies, a lab each; KUBEDP_POLICY_CASES raises the count.
TEST(PolicyDifferential, RandomClustersMatchTheOracle) {
  int cases = 50;
  if (const char* more = std::getenv("KUBEDP_POLICY_CASES")) cases = std::atoi(more);
  for (int seed = 1; seed <= cases; ++seed) {
    testing::RandomCluster cluster = testing::ClusterGenerator(seed).Generate("10.244.4.");
    std::string lab = testing::UniqueLabName("e2e-diff");
    std::string file = "/tmp/" + lab + ".yaml";
    {
      std::ofstream out(file);
      out << "apiVersion: kubedp.io/v1alpha1\nkind: Lab\nmetadata: {name: diff}\n"
             "spec: {nodes: [{name: node1, podCIDR: 10.244.4.0/24}]}\n";
      for (const auto& doc : cluster.documents) out << "---\n" << doc.dump() << "\n";
    }
    Status up = lab::Up(file, {.name_override = lab});
    std::remove(file.c_str());
    ASSERT_TRUE(up.ok()) << "seed " << seed << ": " << up.message();
    ExpectWireMatchesOracle(lab, "seed " + std::to_string(seed));
    ASSERT_TRUE(lab::Down(lab).ok());
    if (HasFailure()) break;
  }
}

}  // namespace
}  // namespace kubedp
