// 300 ADD/DEL cycles with failures injected between the steps: the plugin
// killed part way, the agent restarted, the netns gone before DEL, the runtime
// forgetting its DEL. After the runtime's GC, the store must hold exactly the
// pods that live, every one with a distinct address that is really on its eth0,
// and the node must hold exactly their veths.
#include <random>
#include <set>

#include "common/ip.h"
#include "e2e/cni_harness.h"
#include "e2e/lab_fixture.h"
#include "netdev/netdev.h"

namespace kubedp {
namespace {

using testing::Cni;
using testing::PodNetnsName;

constexpr int kCycles = 300;
constexpr unsigned kSeed = 20261125;

struct LivePod {
  std::string container;
  std::string netns;
};

std::string Container(int cycle) {
  return "load" + std::to_string(cycle) + "abcdef";
}

TEST(CniLoad, ThreeHundredCyclesWithFailuresLeakAndDuplicateNothing) {
  std::string lab = testing::UniqueLabName("e2e-load");
  Status up = lab::Up(testing::ManifestPath("cni-node-24.yaml"), {.name_override = lab});
  ASSERT_TRUE(up.ok()) << up.message();

  std::mt19937 random(kSeed);
  auto roll = [&random](int percent) {
    return std::uniform_int_distribution<int>(0, 99)(random) < percent;
  };
  std::vector<LivePod> live;
  int restarts = 0, killed = 0, netns_gone = 0, forgotten = 0;

  for (int cycle = 0; cycle < kCycles; ++cycle) {
    std::string netns = PodNetnsName(lab, cycle);
    ASSERT_TRUE(testing::MakeNetns(netns).ok());
    if (roll(10)) {
      ASSERT_TRUE(lab::RestartAgent(lab, "node1").ok()) << "cycle " << cycle;
      ++restarts;
    }
    int kill_after_ms = -1;
    if (roll(10)) {
      kill_after_ms = std::uniform_int_distribution<int>(0, 15)(random);
      ++killed;
    }
    auto added = Cni(lab, "ADD", Container(cycle), netns, api::Json::object(), kill_after_ms);
    bool keep = added.exit_code == 0 && roll(15);
    if (keep) {
      live.push_back({Container(cycle), netns});
      continue;
    }
    if (roll(10)) {
      ASSERT_TRUE(testing::DeleteNetns(netns).ok());
      ++netns_gone;
    }
    if (roll(10)) {
      ++forgotten;  // the runtime crashed before its DEL: GC must find it
      continue;
    }
    auto deleted = Cni(lab, "DEL", Container(cycle), netns);
    EXPECT_EQ(deleted.exit_code, 0) << "cycle " << cycle << ": " << deleted.out.dump();
  }
  RecordProperty("restarts", restarts);
  RecordProperty("killed_plugins", killed);
  RecordProperty("netns_gone", netns_gone);
  RecordProperty("forgotten_dels", forgotten);

  // The runtime's GC names what it still runs; everything else goes.
  api::Json valid = api::Json::array();
  for (const auto& pod : live)
    valid.push_back({{"containerID", pod.container}, {"ifname", "eth0"}});
  auto gc = Cni(lab, "GC", "", "", api::Json{{"cni.dev/valid-attachments", valid}});
  EXPECT_EQ(gc.exit_code, 0) << gc.out.dump();

  api::Json held = testing::AgentCall(lab, "ipam.list");
  std::set<std::string> held_containers, addresses, host_veths;
  for (const auto& a : held) {
    held_containers.insert(a["container_id"]);
    EXPECT_TRUE(addresses.insert(a["ip"]).second) << "duplicate address " << a["ip"];
    host_veths.insert(a["interface"]);
  }
  std::set<std::string> live_containers;
  for (const auto& pod : live) live_containers.insert(pod.container);
  EXPECT_EQ(held_containers, live_containers) << "held exactly by the live pods";

  // Each live pod really has its address on eth0.
  for (const auto& a : held) {
    std::string netns;
    for (const auto& pod : live) {
      if (pod.container == a["container_id"]) netns = pod.netns;
    }
    auto guard = netdev::NetnsGuard::Enter(testing::NetnsPath(netns));
    ASSERT_TRUE(guard.ok());
    auto ip = ParseIpv4(a["ip"].get<std::string>());
    ASSERT_TRUE(ip.ok());
    auto present = netdev::HasAddress("eth0", *ip, 32);
    EXPECT_TRUE(present.ok() && *present) << a["ip"] << " on eth0 of " << netns;
  }

  // The node holds the live pods' veths and no others.
  auto links = lab::RunCommand({.argv = {"/usr/bin/env", "ip", "-n", lab::NodeNetns(lab, "node1"),
                                         "-o", "link", "show", "type", "veth"}},
                               "");
  ASSERT_TRUE(links.ok());
  std::set<std::string> node_veths;
  std::istringstream lines(links->out);
  for (std::string line; std::getline(lines, line);) {
    // "7: kubedp1234abcd@if2: <...>" -> kubedp1234abcd
    auto start = line.find(": ") + 2;
    std::string name = line.substr(start, line.find('@') - start);
    if (name.rfind("kubedp", 0) == 0 && name != "kubedp_host" && name != "kubedp_net") {
      node_veths.insert(name);  // pod veths (the uplink eth0 is the lab network's)
    }
  }
  EXPECT_EQ(node_veths, host_veths) << "no veth outlives its allocation";

  EXPECT_TRUE(lab::Down(lab).ok());
}

}  // namespace
}  // namespace kubedp
