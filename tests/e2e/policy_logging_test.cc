// Policy verdict logs from real traffic: allow records name the allowing
// policy, denies are aggregated with a count, the rate limit holds and its
// overflow is counted, delegation follows the annotations, and the file and
// `monitor` carry the same records.
#include <arpa/inet.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "common/ip.h"
#include "e2e/lab_fixture.h"
#include "lab/probe.h"
#include "netdev/netdev.h"

namespace kubedp {
namespace {

using testing::AgentCall;

const char* kPolicies = R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: x}
spec: {podSelector: {}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-y, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: y}}}], ports: [{port: 80}]}]
)";

std::string LoggingConfig(const std::string& config) {
  return R"(
apiVersion: v1
kind: ConfigMap
metadata: {name: kubedp-network-logging, namespace: kube-system}
data:
  config: |
)" + config;
}

class PolicyLogging : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    lab_ = testing::UniqueLabName("e2e-log");
    Status up = lab::Up(testing::ManifestPath("policy-model.yaml"), {.name_override = lab_});
    ASSERT_TRUE(up.ok()) << up.message();
    auto state = lab::LoadState(lab_);
    ASSERT_TRUE(state.ok());
    for (const auto& pod : (*state)["pods"]) {
      std::string key = pod["namespace"].get<std::string>() + "/" + pod["name"].get<std::string>();
      ips_[key] = pod["ip"];
      netns_[key] = "/run/netns/" + pod["netns"].get<std::string>();
    }
  }
  static void TearDownTestSuite() { EXPECT_TRUE(lab::Down(lab_).ok()); }

  // Writes manifests and waits until the agent has read them: every change of
  // the cluster state is recompiled, which moves the policy revision.
  static void Write(const std::string& name, const std::string& yaml, bool enabled) {
    uint64_t before = AgentCall(lab_, "status")["policy"].value("revision", 0ull);
    std::string dir = lab::LabDir(lab_) + "/nodes/node1/manifests/";
    std::ofstream(dir + name + ".tmp") << yaml;
    std::rename((dir + name + ".tmp").c_str(), (dir + name).c_str());
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      api::Json status = AgentCall(lab_, "status");
      if (status["policy"].value("revision", 0ull) > before &&
          status["policy_logging"]["enabled"] == enabled) {
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "agent did not read " << name;
  }

  static bool Connect(const std::string& from, const std::string& to, int port) {
    auto guard = netdev::NetnsGuard::Enter(netns_[from]);
    EXPECT_TRUE(guard.ok());
    return lab::Probe({*ParseIpv4(ips_[to]), port, "TCP"}, 300).connected;
  }

  static api::Json RecordsAfter(uint64_t after) {
    auto result =
        api::Call(lab::NodeSocket(lab_, "node1"), "monitor.poll", api::Json{{"after", after}});
    EXPECT_TRUE(result.ok());
    return result.ok() ? (*result)["records"] : api::Json::array();
  }

  static uint64_t LastSeq() {
    api::Json records = RecordsAfter(0);
    return records.empty() ? 0 : records.back()["seq"].get<uint64_t>();
  }

  // Waits for records after `after` matching disposition; returns them.
  static api::Json WaitFor(uint64_t after, const std::string& disposition, size_t want) {
    api::Json matched = api::Json::array();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      matched = api::Json::array();
      for (const auto& r : RecordsAfter(after)) {
        if (r["disposition"] == disposition) matched.push_back(r);
      }
      if (matched.size() >= want) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return matched;
  }

  static std::string lab_;
  static std::map<std::string, std::string> ips_, netns_;
};
std::string PolicyLogging::lab_;
std::map<std::string, std::string> PolicyLogging::ips_, PolicyLogging::netns_;

TEST_F(PolicyLogging, AllowAndAggregatedDenyRecords) {
  Write("policies.yaml", kPolicies, false);
  Write("logging.yaml",
        LoggingConfig("    cluster: {allow: {log: true}, deny: {log: true}}\n"
                      "    denyAggregationSeconds: 1\n"),
        true);
  uint64_t after = LastSeq();
  ASSERT_TRUE(Connect("y/a", "x/a", 80));
  EXPECT_FALSE(Connect("x/b", "x/a", 80));
  EXPECT_FALSE(Connect("x/b", "x/a", 80));

  api::Json allows = WaitFor(after, "allow", 1);
  ASSERT_EQ(allows.size(), 1u) << "one record per connection, not per packet";
  const api::Json& allow = allows[0];
  EXPECT_EQ(allow["connection"]["dest_ip"], ips_["x/a"]);
  EXPECT_EQ(allow["connection"]["dest_port"], 80);
  EXPECT_EQ(allow["connection"]["protocol"], "TCP");
  EXPECT_EQ(allow["connection"]["direction"], "ingress");
  EXPECT_EQ(allow["src"]["pod_namespace"], "y");
  EXPECT_EQ(allow["dest"]["pod_name"], "a");
  EXPECT_EQ(allow["policies"], api::Json::parse(R"([{"namespace": "x", "name": "from-y"}])"));
  EXPECT_EQ(allow["node_name"], "node1");

  api::Json denies = WaitFor(after, "deny", 1);
  ASSERT_EQ(denies.size(), 1u) << "denies of one flow are aggregated";
  EXPECT_GE(denies[0]["count"].get<int>(), 2) << "two refused connections at least";
  EXPECT_EQ(denies[0]["src"]["pod_name"], "b");
  EXPECT_EQ(denies[0]["connection"]["direction"], "ingress");

  // The file holds the same records, one JSON object per line.
  std::ifstream file(lab::LabDir(lab_) + "/nodes/node1/policy_action.log");
  size_t lines = 0;
  bool found = false;
  for (std::string line; std::getline(file, line); ++lines) {
    api::Json record = api::Json::parse(line);
    found |= record["seq"] == allow["seq"];
  }
  EXPECT_TRUE(found) << "the allow record is in the file";
}

TEST_F(PolicyLogging, RateLimitHoldsAndOverflowIsCounted) {
  Write("logging.yaml",
        LoggingConfig("    cluster: {allow: {log: true}, deny: {log: true}}\n"
                      "    rateLimit: 5\n"),
        true);
  uint64_t overflow_before = AgentCall(lab_, "status")["policy_logging"]["overflow"];
  uint64_t after = LastSeq();
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(Connect("y/a", "x/a", 80));
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  api::Json allows = WaitFor(after, "allow", 1);
  EXPECT_LE(allows.size(), static_cast<size_t>(5 + 5 * seconds + 1))
      << "5 per second, a second's burst";
  uint64_t overflow = AgentCall(lab_, "status")["policy_logging"]["overflow"];
  EXPECT_GE(overflow - overflow_before + allows.size(), 40u) << "what was not logged is counted";
}

TEST_F(PolicyLogging, DelegationFollowsTheAnnotation) {
  Write("logging.yaml", LoggingConfig("    cluster: {allow: {log: true, delegate: true}}\n"), true);
  uint64_t after = LastSeq();
  ASSERT_TRUE(Connect("y/a", "x/a", 80));  // allowed by a policy without the annotation
  EXPECT_FALSE(Connect("x/b", "x/a", 80)) << "denies are not logged in this config";

  std::string annotated = kPolicies;
  annotated.replace(annotated.find("name: from-y"), 12,
                    "name: from-y, annotations: {policy.network.gke.io/enable-logging: \"true\"}");
  Write("policies.yaml", annotated, true);
  ASSERT_TRUE(Connect("y/a", "x/a", 80));
  // Events are handled in order: once the second connection's record is
  // there, the first connection and the deny have been handled too.
  api::Json allows = WaitFor(after, "allow", 1);
  EXPECT_EQ(allows.size(), 1u) << "only the annotated policy's connection is logged";
  EXPECT_EQ(RecordsAfter(after).size(), 1u) << RecordsAfter(after).dump();
}

}  // namespace
}  // namespace kubedp
