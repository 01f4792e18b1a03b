// The node device with real traffic between a lab node and a host outside
// the cluster: masquerade and its ip-masq-agent config, 2000 concurrent
// masqueraded connections that never use a NodePort-range port and survive
// an agent restart, a node
// process whose source port equals a NodePort, NodePort / LoadBalancer /
// external IP from outside with the client's address kept, the immediate
// refusal of a Service without backends, and NAT pairs retired on close.
#include <sys/resource.h>

#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "common/ip.h"
#include "e2e/echo_client.h"
#include "e2e/lab_fixture.h"
#include "lab/probe.h"
#include "netdev/netdev.h"

namespace kubedp {
namespace {

using testing::AgentCall;
using testing::ConnectAndGreet;
using testing::Greeting;
using testing::ParseGreeting;

constexpr const char* kExternal = "192.0.2.100";
constexpr const char* kNodeIp = "192.0.2.11";
constexpr uint16_t kWebPort = 80;

uint16_t PortOf(const std::string& seen) {
  return static_cast<uint16_t>(std::stoi(seen.substr(seen.rfind(':') + 1)));
}
std::string AddressOf(const std::string& seen) {
  return seen.substr(0, seen.rfind(':'));
}

class NodeDevice : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    testing::RaiseOpenFileLimit();
    testing::UpLab("e2e-nd", "node-device.yaml", &lab_);
  }
  static void TearDownTestSuite() { EXPECT_TRUE(lab::Down(lab_).ok()); }

  void SetUp() override {
    if (HasFatalFailure()) GTEST_SKIP();
    auto state = lab::LoadState(lab_);
    ASSERT_TRUE(state.ok());
    for (const auto& pod : (*state)["pods"]) {
      netns_[pod["name"].get<std::string>()] = "/run/netns/" + pod["netns"].get<std::string>();
      ips_[pod["name"].get<std::string>()] = pod["ip"].get<std::string>();
    }
    netns_["node"] = "/run/netns/" + (*state)["nodes"][0]["netns"].get<std::string>();
    netns_["web"] = "/run/netns/" + (*state)["external"][0]["netns"].get<std::string>();
  }

  // One TCP exchange with the echo server from `where`'s namespace.
  Greeting Ask(const std::string& where, const std::string& ip, uint16_t port,
               const std::string& protocol = "TCP") {
    auto guard = netdev::NetnsGuard::Enter(netns_[where]);
    EXPECT_TRUE(guard.ok());
    auto address = ParseIpv4(ip);
    lab::ProbeResult result = lab::Probe({*address, port, protocol}, 1000);
    return {result.answered_by, result.seen_source};
  }

  static std::string ManifestDir() { return lab::LabDir(lab_) + "/nodes/node1/manifests"; }

  static void WriteManifest(const std::string& name, const api::Json& list) {
    std::string path = ManifestDir() + "/" + name;
    std::ofstream(path + ".tmp") << list.dump();
    std::filesystem::rename(path + ".tmp", path);
  }

  static api::Json MasqConfigMap(const std::string& config) {
    return api::Json{{"apiVersion", "v1"},
                     {"kind", "ConfigMap"},
                     {"metadata", {{"name", "ip-masq-agent"}, {"namespace", "kube-system"}}},
                     {"data", {{"config", config}}}};
  }

  // Waits until the agent's masquerade status satisfies done (at most 5 s).
  static api::Json WaitForMasquerade(const std::function<bool(const api::Json&)>& done) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    api::Json masq;
    do {
      masq = AgentCall(lab_, "status")["masquerade"];
      if (done(masq)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    } while (std::chrono::steady_clock::now() < deadline);
    return masq;
  }

  static std::string lab_;
  std::map<std::string, std::string> netns_;
  std::map<std::string, std::string> ips_;
};
std::string NodeDevice::lab_;

TEST_F(NodeDevice, PodTrafficLeavingTheClusterTakesTheNodeAddress) {
  Greeting greeting = Ask("c1", kExternal, kWebPort);
  EXPECT_EQ(greeting.who, "external/web");
  EXPECT_EQ(AddressOf(greeting.seen), kNodeIp);
  uint16_t port = PortOf(greeting.seen);
  EXPECT_TRUE(port < 30000 || port > 32767) << port;

  Greeting udp = Ask("c2", kExternal, 53, "UDP");
  EXPECT_EQ(udp.who, "external/web");
  EXPECT_EQ(AddressOf(udp.seen), kNodeIp);
}

TEST_F(NodeDevice, MasqueradeConfigMapIsLiveAndABadOneChangesNothing) {
  WriteManifest("masq.json", MasqConfigMap("nonMasqueradeCIDRs: [10.0.0.0/8, 192.0.2.0/24]\n"
                                           "resyncInterval: 30s\n"));
  api::Json masq = WaitForMasquerade(
      [](const api::Json& m) { return m["source"] == "kube-system/ip-masq-agent"; });
  ASSERT_EQ(masq["non_masquerade_cidrs"].size(), 2u) << masq.dump();
  EXPECT_EQ(masq["resync_interval_ms"], 30000);
  // The external host routes the pod range to the node: the pod's own address works.
  EXPECT_EQ(Ask("c1", kExternal, kWebPort).seen.rfind(ips_["c1"] + ":", 0), 0u);

  WriteManifest("masq.json", MasqConfigMap("nonMasqueradeCIDRs: [192.0.2.0/33]\n"));
  masq = WaitForMasquerade([](const api::Json& m) { return !m["error"].is_null(); });
  EXPECT_NE(masq["error"].get<std::string>().find("nonMasqueradeCIDRs[0]"), std::string::npos)
      << masq.dump();
  EXPECT_EQ(masq["non_masquerade_cidrs"].size(), 2u) << "the last good config stays";
  EXPECT_EQ(Ask("c1", kExternal, kWebPort).seen.rfind(ips_["c1"] + ":", 0), 0u);

  std::filesystem::remove(ManifestDir() + "/masq.json");
  masq = WaitForMasquerade([](const api::Json& m) { return m["source"] == "defaults"; });
  EXPECT_TRUE(masq["error"].is_null());
  EXPECT_EQ(AddressOf(Ask("c1", kExternal, kWebPort).seen), kNodeIp);
}

TEST_F(NodeDevice, TwoThousandConcurrentMasqueradedConnectionsGetDistinctPortsOutsideNodePorts) {
  constexpr int kPerPod = 500;
  const std::vector<std::string> pods{"c1", "c2", "c3", "c4"};
  std::vector<std::vector<UniqueFd>> held(pods.size());
  std::vector<std::vector<std::string>> seen(pods.size());
  std::vector<std::thread> workers;
  for (size_t p = 0; p < pods.size(); ++p) {
    workers.emplace_back([&, p] {
      auto guard = netdev::NetnsGuard::Enter(netns_[pods[p]]);
      if (!guard.ok()) return;
      for (int i = 0; i < kPerPod; ++i) {
        std::string line;
        UniqueFd fd = ConnectAndGreet(kExternal, kWebPort, &line);
        if (!fd.valid()) continue;
        seen[p].push_back(ParseGreeting(line).seen);
        held[p].push_back(std::move(fd));  // all stay open at once
      }
    });
  }
  for (auto& worker : workers) worker.join();

  std::set<std::string> sources;
  size_t in_nodeport_range = 0;
  for (const auto& list : seen) {
    for (const auto& source : list) {
      sources.insert(source);
      EXPECT_EQ(AddressOf(source), kNodeIp);
      uint16_t port = PortOf(source);
      if (port >= 30000 && port <= 32767) ++in_nodeport_range;
    }
  }
  EXPECT_EQ(sources.size(), pods.size() * kPerPod)
      << "every connection answered, each from its own port";
  EXPECT_EQ(in_nodeport_range, 0u);
  EXPECT_GE(AgentCall(lab_, "nat.list").size(), pods.size() * kPerPod);
  EXPECT_EQ(testing::Counted(lab_, "snat-ports-exhausted"), 0u);

  // An agent restart in the middle of them drops none: NAT and conntrack
  // stay pinned, the node device's programs are replaced in place.
  ASSERT_TRUE(lab::RestartAgent(lab_, "node1").ok());
  size_t alive = 0;
  for (auto& list : held) {
    for (auto& fd : list) {
      std::string reply;
      alive += send(fd.get(), "ping\n", 5, MSG_NOSIGNAL) == 5 &&
               testing::ReadLine(fd.get(), &reply) && reply.rfind("external/web ", 0) == 0;
    }
  }
  EXPECT_EQ(alive, pods.size() * kPerPod);
}

TEST_F(NodeDevice, ANodePortDoesNotStealRepliesOfANodeConnectionOnItsPort) {
  auto node_ip = ParseIpv4(kNodeIp);
  auto guard = netdev::NetnsGuard::Enter(netns_["node"]);
  ASSERT_TRUE(guard.ok());
  std::string line;
  // 30555 is the NodePort of apps/collide.
  UniqueFd fd = ConnectAndGreet(kExternal, kWebPort, &line, *node_ip, 30555);
  ASSERT_TRUE(fd.valid()) << "the reply reached the node's socket";
  EXPECT_EQ(line, std::string("external/web ") + kNodeIp + ":30555");
}

TEST_F(NodeDevice, NodePortFromOutsideKeepsTheClientAddressUnderLocalPolicy) {
  Greeting tcp = Ask("web", kNodeIp, 30080);
  EXPECT_EQ(tcp.who, "apps/server");
  EXPECT_EQ(AddressOf(tcp.seen), kExternal);
  Greeting udp = Ask("web", kNodeIp, 30053, "UDP");
  EXPECT_EQ(udp.who, "apps/server");
  EXPECT_EQ(AddressOf(udp.seen), kExternal);
}

TEST_F(NodeDevice, LoadBalancerAndExternalIpsFromOutside) {
  // The external network routes the Service addresses to the node, as a
  // cloud load balancer or a router would (the route goes with the lab).
  std::string netns = netns_["web"].substr(netns_["web"].rfind('/') + 1);
  ASSERT_EQ(
      std::system(("ip -n " + netns + " route replace 198.51.100.0/24 via " + kNodeIp).c_str()), 0);
  for (const char* vip : {"198.51.100.10", "198.51.100.20"}) {
    Greeting greeting = Ask("web", vip, 80);
    EXPECT_EQ(greeting.who, "apps/server") << vip;
    EXPECT_EQ(AddressOf(greeting.seen), kExternal) << vip;
  }
}

TEST_F(NodeDevice, NodePortWithoutBackendsRefusesAtOnce) {
  auto guard = netdev::NetnsGuard::Enter(netns_["web"]);
  ASSERT_TRUE(guard.ok());
  auto start = std::chrono::steady_clock::now();
  lab::ProbeResult result = lab::Probe({*ParseIpv4(kNodeIp), 30090, "TCP"}, 2000);
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(result.connected);
  EXPECT_NE(result.error.find("refused"), std::string::npos) << result.error;
  EXPECT_LT(elapsed, std::chrono::milliseconds(100));
}

TEST_F(NodeDevice, ClosedMasqueradedConnectionsLeaveTheNatTable) {
  {
    auto guard = netdev::NetnsGuard::Enter(netns_["c3"]);
    ASSERT_TRUE(guard.ok());
    for (int i = 0; i < 20; ++i) {
      std::string line, rest;
      UniqueFd fd = ConnectAndGreet(kExternal, kWebPort, &line);
      ASSERT_TRUE(fd.valid());
      shutdown(fd.get(), SHUT_WR);
      testing::ReadLine(fd.get(), &rest);  // the server's FIN
    }
  }
  auto pairs_of_c3 = [&] {
    size_t count = 0;
    for (const auto& row : AgentCall(lab_, "nat.list")) {
      count += row["original"].get<std::string>().rfind(ips_["c3"] + ":", 0) == 0;
    }
    return count;
  };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (pairs_of_c3() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(pairs_of_c3(), 0u);
  EXPECT_GT(AgentCall(lab_, "status")["nat"]["swept_total"].get<int>(), 0);
}

}  // namespace
}  // namespace kubedp
