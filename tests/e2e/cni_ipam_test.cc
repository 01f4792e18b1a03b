// The CNI plugin and the agent's IPAM against the real kernel: the verbs,
// rollback, exhaustion, GC and the reclaim of addresses whose pods are gone.
#include <chrono>
#include <set>
#include <thread>

#include "common/ip.h"
#include "e2e/cni_harness.h"
#include "e2e/lab_fixture.h"
#include "netdev/netdev.h"

namespace kubedp {
namespace {

using testing::AgentCall;
using testing::Cni;
using testing::ContainerOf;
using testing::PodNetnsName;

class CniIpam : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { testing::UpLab("e2e-cni", "cni-node-28.yaml", &lab_); }
  static void TearDownTestSuite() { EXPECT_TRUE(lab::Down(lab_).ok()); }

  void SetUp() override {
    if (HasFatalFailure()) GTEST_SKIP();
  }
  // Every test starts and ends with no pod on the node.
  void TearDown() override {
    for (const auto& a : AgentCall(lab_, "ipam.list")) {
      Cni(lab_, "DEL", a["container_id"], "");
    }
    for (int i = 0; i < 20; ++i) (void)testing::DeleteNetns(PodNetnsName(lab_, i));
    EXPECT_TRUE(AgentCall(lab_, "ipam.list").empty());
  }

  testing::CniOutcome AddPod(int index) {
    EXPECT_TRUE(testing::MakeNetns(PodNetnsName(lab_, index)).ok());
    return Cni(lab_, "ADD", ContainerOf(index), PodNetnsName(lab_, index));
  }

  size_t Allocated() { return AgentCall(lab_, "ipam.list").size(); }

  // Polls the agent until `want` addresses are held (the reclaim runs every second).
  bool WaitForAllocated(size_t want, int timeout_ms = 10000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      if (Allocated() == want) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  bool HostLinkExists(const std::string& name) {
    auto guard = netdev::NetnsGuard::Enter(testing::NetnsPath(lab::NodeNetns(lab_, "node1")));
    EXPECT_TRUE(guard.ok());
    auto index = netdev::LinkIndex(name);
    return index.ok() && *index > 0;
  }

  static std::string lab_;
};
std::string CniIpam::lab_;

TEST_F(CniIpam, AddCheckDelRoundTrip) {
  auto added = AddPod(0);
  ASSERT_EQ(added.exit_code, 0) << added.out.dump();
  std::string address = added.out["ips"][0]["address"];
  auto cidr = Ipv4Cidr::Parse("10.244.8.0/28");
  auto ip = ParseIpv4(address.substr(0, address.find('/')));
  ASSERT_TRUE(ip.ok());
  EXPECT_TRUE(cidr->Contains(*ip));
  EXPECT_NE(*ip, cidr->network + 1) << "the gateway is never handed out";
  EXPECT_EQ(added.out["interfaces"][1]["name"], "eth0");

  auto checked = Cni(lab_, "CHECK", ContainerOf(0), PodNetnsName(lab_, 0),
                     api::Json{{"prevResult", added.out}});
  EXPECT_EQ(checked.exit_code, 0) << checked.out.dump();

  std::string host_veth = added.out["interfaces"][0]["name"];
  EXPECT_TRUE(HostLinkExists(host_veth));
  auto deleted = Cni(lab_, "DEL", ContainerOf(0), PodNetnsName(lab_, 0));
  EXPECT_EQ(deleted.exit_code, 0) << deleted.out.dump();
  EXPECT_EQ(Allocated(), 0u);
  EXPECT_FALSE(HostLinkExists(host_veth)) << "DEL removes the veth";
}

TEST_F(CniIpam, OlderVersionsGetTheirResultFormat) {
  ASSERT_TRUE(testing::MakeNetns(PodNetnsName(lab_, 0)).ok());
  auto added =
      Cni(lab_, "ADD", ContainerOf(0), PodNetnsName(lab_, 0), api::Json::object(), -1, "0.3.1");
  ASSERT_EQ(added.exit_code, 0) << added.out.dump();
  EXPECT_EQ(added.out["cniVersion"], "0.3.1");
  EXPECT_EQ(added.out["ips"][0]["version"], "4");
}

TEST_F(CniIpam, DelIsIdempotentAndNeedsNoNetns) {
  ASSERT_EQ(AddPod(0).exit_code, 0);
  ASSERT_TRUE(testing::DeleteNetns(PodNetnsName(lab_, 0)).ok());
  auto first = Cni(lab_, "DEL", ContainerOf(0), "");
  EXPECT_EQ(first.exit_code, 0) << first.out.dump();
  EXPECT_EQ(Allocated(), 0u) << "the address comes back even without a netns";
  auto again = Cni(lab_, "DEL", ContainerOf(0), "");
  EXPECT_EQ(again.exit_code, 0) << "a repeated DEL succeeds";
}

TEST_F(CniIpam, CheckReportsDrift) {
  auto added = AddPod(0);
  ASSERT_EQ(added.exit_code, 0);
  std::string netns = PodNetnsName(lab_, 0);
  auto flushed = lab::RunCommand(
      {.argv = {"/usr/bin/env", "ip", "-n", netns, "addr", "flush", "dev", "eth0"}}, "");
  ASSERT_TRUE(flushed.ok() && flushed->exit_code == 0);
  auto checked = Cni(lab_, "CHECK", ContainerOf(0), netns, api::Json{{"prevResult", added.out}});
  EXPECT_NE(checked.exit_code, 0);
  EXPECT_EQ(checked.out["msg"], "CHECK found drift");
  EXPECT_NE(checked.out["details"].get<std::string>().find("lacks"), std::string::npos)
      << checked.out.dump();
}

// ADD fails after the veth was made (eth0 already in the pod): nothing stays.
TEST_F(CniIpam, FailedAddLeavesNoAddressAndNoLink) {
  std::string netns = PodNetnsName(lab_, 0);
  ASSERT_TRUE(testing::MakeNetns(netns).ok());
  auto taken = lab::RunCommand({.argv = {"/usr/bin/env", "ip", "-n", netns, "link", "add", "eth0",
                                         "type", "veth", "peer", "name", "other0"}},
                               "");
  ASSERT_TRUE(taken.ok() && taken->exit_code == 0);
  auto added = Cni(lab_, "ADD", ContainerOf(0), netns);
  EXPECT_NE(added.exit_code, 0);
  EXPECT_EQ(added.out["msg"], "creating the veth pair failed") << added.out.dump();
  EXPECT_EQ(Allocated(), 0u);
}

// The agent reserved an address, then could not attach: the reservation goes.
TEST_F(CniIpam, AgentRollsBackTheReservationWhenAttachFails) {
  auto result = api::Call(lab::NodeSocket(lab_, "node1"), "endpoint.create",
                          api::Json{{"container_id", "rollback1"},
                                    {"ifname", "eth0"},
                                    {"netns", "/run/netns/none"},
                                    {"pod_namespace", "t"},
                                    {"pod_name", "rollback"},
                                    {"host_ifname", "nosuchveth0"},
                                    {"pod_mac", "02:00:00:00:00:01"}});
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("host interface nosuchveth0 not found"),
            std::string::npos)
      << result.status().message();
  EXPECT_EQ(Allocated(), 0u);
}

TEST_F(CniIpam, ExhaustionNamesTheRangeAndTheHoldersAndRecovers) {
  for (int i = 0; i < 13; ++i) ASSERT_EQ(AddPod(i).exit_code, 0) << "pod " << i;
  auto full = AddPod(13);
  ASSERT_NE(full.exit_code, 0);
  std::string details = full.out["details"];
  EXPECT_NE(details.find("no free address in pod range 10.244.8.0/28: 13 of 13 usable addresses "
                         "allocated; oldest holders: t/"),
            std::string::npos)
      << details;
  EXPECT_NE(details.find("run 'kubedp ipam gc'"), std::string::npos) << details;
  auto status = Cni(lab_, "STATUS", "", "");
  EXPECT_EQ(status.out["code"], 50) << status.out.dump();
  EXPECT_GE(AgentCall(lab_, "status")["ipam"]["exhaustion_events"].get<int>(), 1);

  // Three pods vanish without a DEL; the agent's reclaim frees their addresses.
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(testing::DeleteNetns(PodNetnsName(lab_, i)).ok());
  ASSERT_TRUE(WaitForAllocated(10)) << "reclaim frees addresses of pods that are gone";
  EXPECT_EQ(Cni(lab_, "STATUS", "", "").exit_code, 0);
  auto retried = Cni(lab_, "ADD", ContainerOf(13), PodNetnsName(lab_, 13));
  EXPECT_EQ(retried.exit_code, 0) << retried.out.dump();
}

TEST_F(CniIpam, GcFreesEverythingNotValid) {
  std::vector<std::string> veths;
  for (int i = 0; i < 3; ++i) {
    auto added = AddPod(i);
    ASSERT_EQ(added.exit_code, 0);
    veths.push_back(added.out["interfaces"][0]["name"]);
  }
  // The legacy key, as older runtimes send it.
  api::Json valid =
      api::Json::array({api::Json{{"containerID", ContainerOf(0)}, {"ifname", "eth0"}}});
  auto gc = Cni(lab_, "GC", "", "", api::Json{{"cni.dev/attachments", valid}});
  EXPECT_EQ(gc.exit_code, 0) << gc.out.dump();
  auto left = AgentCall(lab_, "ipam.list");
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0]["container_id"], ContainerOf(0));
  EXPECT_TRUE(HostLinkExists(veths[0]));
  EXPECT_FALSE(HostLinkExists(veths[1]));
  EXPECT_FALSE(HostLinkExists(veths[2]));
}

}  // namespace
}  // namespace kubedp
