// One node, four pods in two namespaces, real TCP and UDP between them. The
// node's IP forwarding is off: every packet that arrives was delivered by the
// kubedp program, and its counters must account for them.
#include <arpa/inet.h>
#include <sys/socket.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "common/ip.h"
#include "datapath/libbpf_log.h"
#include "datapath/maps.h"
#include "datapath/tc.h"
#include "e2e/lab_fixture.h"
#include "lab/probe.h"
#include "lab/process.h"
#include "netdev/netdev.h"

namespace kubedp {
namespace {

using testing::AgentCall;
using testing::Counted;

std::string NetnsPath(const std::string& name) {
  return "/run/netns/" + name;
}

void WriteSysctlIn(const std::string& netns, const std::string& key, const std::string& value) {
  auto guard = netdev::NetnsGuard::Enter(NetnsPath(netns));
  ASSERT_TRUE(guard.ok()) << guard.status().message();
  std::ofstream(key) << value;
  std::ifstream in(key);
  std::string read;
  std::getline(in, read);
  ASSERT_EQ(read, value) << key;
}

size_t CountObserved(const std::vector<lab::ProbeCell>& cells) {
  size_t observed = 0;
  for (const auto& cell : cells) observed += cell.observed;
  return observed;
}

class PodForwarding : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    datapath::RouteLibbpfLogs();
    lab_ = testing::UniqueLabName("e2e-fwd");
    Status up = lab::Up(testing::ManifestPath("one-node.yaml"), {.name_override = lab_});
    ASSERT_TRUE(up.ok()) << up.message();
    WriteSysctlIn(lab::NodeNetns(lab_, "node1"), "/proc/sys/net/ipv4/ip_forward", "0");
  }
  static void TearDownTestSuite() { EXPECT_TRUE(lab::Down(lab_).ok()); }

  void SetUp() override {
    if (HasFatalFailure()) GTEST_SKIP();
    auto state = lab::LoadState(lab_);
    ASSERT_TRUE(state.ok()) << state.status().message();
    state_ = *state;
  }

  const api::Json& Pod(const std::string& name) {
    for (const auto& pod : state_["pods"]) {
      if (pod["name"] == name) return pod;
    }
    static const api::Json kNone;
    ADD_FAILURE() << "no pod " << name;
    return kNone;
  }

  static std::string lab_;
  api::Json state_;
};
std::string PodForwarding::lab_;

TEST_F(PodForwarding, PodsReachEachOtherThroughTheProgramAlone) {
  uint64_t forwarded_before = Counted(lab_, "forwarded");
  auto cells = lab::ProbeMatrix(lab_);
  ASSERT_TRUE(cells.ok()) << cells.status().message();
  ASSERT_EQ(cells->size(), 20u) << "4 pods x 5 ports";
  for (const auto& cell : *cells) {
    EXPECT_TRUE(cell.observed) << cell.from << " -> " << cell.to << ":" << cell.port << "/"
                               << cell.protocol << ": " << cell.detail;
  }
  // Every probe is at least one packet out and one back, both through the program.
  EXPECT_GE(Counted(lab_, "forwarded") - forwarded_before, 2 * cells->size());
}

// Without the program on a pod's veth, that pod's packets meet the node's
// stack with forwarding off, and go nowhere: the datapath was doing the work.
TEST_F(PodForwarding, DetachingTheProgramCutsThePodOff) {
  std::string veth;
  for (const auto& endpoint : AgentCall(lab_, "endpoint.list")) {
    if (endpoint["pod"] == "web") veth = endpoint["interface"];
  }
  ASSERT_FALSE(veth.empty());
  int ifindex = 0;
  {
    auto guard = netdev::NetnsGuard::Enter(NetnsPath(lab::NodeNetns(lab_, "node1")));
    ASSERT_TRUE(guard.ok());
    auto index = netdev::LinkIndex(veth);
    ASSERT_TRUE(index.ok() && *index > 0);
    ifindex = *index;
    ASSERT_TRUE(datapath::DetachIngress(ifindex).ok());
  }
  auto cells = lab::ProbeMatrix(lab_);
  ASSERT_TRUE(cells.ok());
  for (const auto& cell : *cells) {
    bool involves_web = cell.from == "frontend/web" || cell.to == "frontend/web";
    bool self = cell.from == "frontend/web" && cell.to == "frontend/web";
    if (involves_web && !self) {
      EXPECT_FALSE(cell.observed) << cell.from << " -> " << cell.to << " should be cut off";
    } else {
      EXPECT_TRUE(cell.observed) << cell.from << " -> " << cell.to << ": " << cell.detail;
    }
  }
  // Put it back, as the agent would after a restart.
  auto status = AgentCall(lab_, "status");
  auto guard = netdev::NetnsGuard::Enter(NetnsPath(lab::NodeNetns(lab_, "node1")));
  ASSERT_TRUE(guard.ok());
  auto prog = datapath::OpenProgramById(status["program"]["id"].get<uint32_t>());
  ASSERT_TRUE(prog.ok()) << prog.status().message();
  ASSERT_TRUE(datapath::AttachIngress(ifindex, prog->get()).ok());
}

TEST_F(PodForwarding, UnknownDestinationIsDroppedWithAReason) {
  uint64_t drops_before = Counted(lab_, "unknown-destination");
  const std::string unknown = "10.244.1.200";  // inside the node's pod range, no pod
  {
    auto guard = netdev::NetnsGuard::Enter(NetnsPath(Pod("db")["netns"]));
    ASSERT_TRUE(guard.ok());
    auto ip = ParseIpv4(unknown);
    ASSERT_TRUE(ip.ok());
    lab::ProbeResult result = lab::Probe({*ip, 9999, "UDP"}, 300);
    EXPECT_FALSE(result.connected);
  }
  EXPECT_GE(Counted(lab_, "unknown-destination") - drops_before, 1u);

  // The drop also reaches the agent as an event naming the flow.
  bool reported = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!reported && std::chrono::steady_clock::now() < deadline) {
    api::Json status = AgentCall(lab_, "status");
    for (const auto& drop : status["recent_drops"]) {
      reported |= drop["destination"] == unknown && drop["reason"] == "unknown-destination" &&
                  drop["destination_port"] == 9999;
    }
    if (!reported) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(reported) << AgentCall(lab_, "status")["recent_drops"].dump();
}

TEST_F(PodForwarding, StatusReportsProgramsMapsAndEndpoints) {
  api::Json status = AgentCall(lab_, "status");
  EXPECT_EQ(status["endpoints"], 4);
  ASSERT_EQ(status["attachments"].size(), 4u);
  uint32_t program_id = status["program"]["id"];
  EXPECT_GT(program_id, 0u);
  for (const auto& attachment : status["attachments"]) {
    EXPECT_EQ(attachment["hook"], "tc-ingress");
    EXPECT_EQ(attachment["program_id"], program_id) << attachment.dump();
  }
  bool endpoints_map_seen = false;
  for (const auto& map : status["maps"]) {
    if (map["name"] == "kdp_endpoints") {
      endpoints_map_seen = true;
      EXPECT_EQ(map["entries"], 4);
    }
  }
  EXPECT_TRUE(endpoints_map_seen);
  EXPECT_EQ(status["cluster"]["pods"], 4);
  EXPECT_EQ(status["cluster"]["namespaces"], 2);
}

// Services as the agent compiles them: EndpointSlices derived from the
// selector and the pods' readiness, the named targetPort resolved per pod.
TEST_F(PodForwarding, ServiceListShowsDerivedBackends) {
  api::Json services = AgentCall(lab_, "service.list");
  EXPECT_TRUE(services["errors"].empty()) << services.dump();
  std::set<std::string> kinds;
  for (const auto& frontend : services["services"]) {
    if (frontend["service"] != "frontend/web") continue;
    kinds.insert(frontend["kind"]);
    std::set<std::string> backends;
    for (const auto& b : frontend["backends"]) {
      EXPECT_EQ(b["state"], "ready");
      EXPECT_EQ(b["port"], 8080) << "targetPort http resolved on the pod";
      backends.insert(b["pod"]);
    }
    EXPECT_EQ(backends, (std::set<std::string>{"frontend/web", "frontend/shop"}));
    EXPECT_EQ(frontend["affinity_timeout_seconds"], 10800);
  }
  EXPECT_EQ(kinds, (std::set<std::string>{"ClusterIP", "NodePort"}));
}

// A pod reaches a ClusterIP; the datapath picks a backend per connection
// (both answer over 40 connections) and the backend sees the client's address.
// Who answers 40 connections from pod db to vip:80.
std::map<std::string, int> AnsweredFrom(const api::Json& client, const std::string& vip) {
  auto guard = netdev::NetnsGuard::Enter(NetnsPath(client["netns"]));
  EXPECT_TRUE(guard.ok());
  std::map<std::string, int> answered;
  for (int i = 0; i < 40; ++i) {
    lab::ProbeResult result = lab::Probe({*ParseIpv4(vip), 80, "TCP"}, 1000);
    EXPECT_TRUE(result.connected) << "connection " << i << ": " << result.error;
    ++answered[result.answered_by];
    EXPECT_EQ(result.seen_source.substr(0, result.seen_source.find(':')), client["ip"])
        << "no source translation for pod traffic";
  }
  return answered;
}

TEST_F(PodForwarding, ClusterIpSpreadsConnectionsOverItsBackends) {
  auto answered = AnsweredFrom(Pod("db"), "10.96.0.11");
  EXPECT_EQ(answered.size(), 2u) << "both backends answer";
  EXPECT_TRUE(answered.contains("frontend/web") && answered.contains("frontend/shop"));
}

// sessionAffinity: ClientIP keeps the client on one backend.
TEST_F(PodForwarding, ClientIpAffinityKeepsOneBackend) {
  auto answered = AnsweredFrom(Pod("db"), "10.96.0.10");
  ASSERT_EQ(answered.size(), 1u) << "one backend answers every connection";
  EXPECT_EQ(answered.begin()->second, 40);
}

// A Service without backends refuses a connection at once (a reset from the
// datapath; for UDP an ICMP port unreachable), rather than leaving the client
// to time out.
TEST_F(PodForwarding, ServiceWithoutBackendsRefusesWithin100ms) {
  auto guard = netdev::NetnsGuard::Enter(NetnsPath(Pod("db")["netns"]));
  ASSERT_TRUE(guard.ok());
  auto start = std::chrono::steady_clock::now();
  lab::ProbeResult result = lab::Probe({*ParseIpv4("10.96.0.12"), 80, "TCP"}, 2000);
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(result.connected);
  EXPECT_EQ(result.error, "Connection refused");
  EXPECT_LT(elapsed, std::chrono::milliseconds(100));

  start = std::chrono::steady_clock::now();
  lab::ProbeResult udp = lab::Probe({*ParseIpv4("10.96.0.12"), 53, "UDP"}, 2000);
  elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(udp.connected);
  EXPECT_EQ(udp.error, "Connection refused") << "the ICMP port unreachable reached the socket";
  EXPECT_LT(elapsed, std::chrono::milliseconds(100));
}

// A broken file is named with its reason; the objects read before stay.
TEST_F(PodForwarding, MalformedManifestIsReportedAndLastGoodStateStays) {
  std::string dir = lab::LabDir(lab_) + "/nodes/node1/manifests";
  std::ofstream(dir + "/broken.yaml")
      << "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n"
         "spec:\n  containers: [{name: c, ports: [{containerPort: http}]}]\n";
  api::Json errors;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < deadline) {
    errors = AgentCall(lab_, "status")["manifest_errors"];
    if (!errors.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::filesystem::remove(dir + "/broken.yaml");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0]["path"].get<std::string>().find("broken.yaml"), std::string::npos);
  EXPECT_NE(errors[0]["message"].get<std::string>().find("containerPort"), std::string::npos);
  EXPECT_EQ(AgentCall(lab_, "status")["cluster"]["pods"], 4);
}

// The NodePort range is reserved from the ephemeral ports, and an overlap of
// the two is reported (checked at agent start).
TEST_F(PodForwarding, NodePortRangeIsReservedAndOverlapReported) {
  api::Json checks = AgentCall(lab_, "status")["port_checks"];
  EXPECT_EQ(checks["nodeport_range"], "30000-32767");
  EXPECT_TRUE(checks["overlap"].is_null()) << checks.dump();
  EXPECT_NE(checks["reserved_ports"].get<std::string>().find("30000-32767"), std::string::npos)
      << checks.dump();

  WriteSysctlIn(lab::NodeNetns(lab_, "node1"), "/proc/sys/net/ipv4/ip_local_port_range",
                "20000\t40000");
  ASSERT_TRUE(lab::RestartAgent(lab_, "node1").ok());
  api::Json status = AgentCall(lab_, "status");
  EXPECT_EQ(status["port_checks"]["overlap"], "30000-32767");
  bool reported = false;
  for (const auto& error : status["recent_errors"]) {
    reported |=
        error["message"].get<std::string>().find("overlap the NodePort range") != std::string::npos;
  }
  EXPECT_TRUE(reported) << status["recent_errors"].dump();
}

// Fail static: with the agent gone, pods keep talking. A lab of its own, since
// it stops the agent.
TEST(AgentDown, TrafficKeepsFlowing) {
  std::string lab = testing::UniqueLabName("e2e-down");
  Status up = lab::Up(testing::ManifestPath("one-node.yaml"), {.name_override = lab});
  ASSERT_TRUE(up.ok()) << up.message();
  auto state = lab::LoadState(lab);
  ASSERT_TRUE(state.ok());
  pid_t agent = (*state)["nodes"][0]["agent_pid"];
  lab::Stop(agent);
  EXPECT_FALSE(lab::Alive(agent));
  auto cells = lab::ProbeMatrix(lab);
  EXPECT_TRUE(cells.ok());
  if (cells.ok()) {
    EXPECT_EQ(CountObserved(*cells), cells->size());
  }
  EXPECT_TRUE(lab::Down(lab).ok());
}

}  // namespace
}  // namespace kubedp
