#include "control/ipam_reclaim.h"

#include <gtest/gtest.h>

#include <set>

namespace kubedp::control {
namespace {

ipam::Allocation Held(const std::string& container, int64_t created_at) {
  ipam::Allocation allocation;
  allocation.container_id = container;
  allocation.ifname = "eth0";
  allocation.pod_namespace = "default";
  allocation.pod_name = "pod-" + container;
  allocation.netns = "/run/netns/" + container;
  allocation.created_at = created_at;
  return allocation;
}

ReclaimObservations Observed(std::set<std::string> live_netns, std::set<std::string> known_pods) {
  return {[live_netns](const ipam::Allocation& a) { return live_netns.count(a.container_id) > 0; },
          [known_pods](const ipam::Allocation& a) { return known_pods.count(a.container_id) > 0; }};
}

TEST(FindReclaimable, NeedsNetnsGonePodUnknownAndGraceOver) {
  std::vector<ipam::Allocation> held{Held("gone", 0), Held("live-netns", 0), Held("known-pod", 0),
                                     Held("young", 95)};
  auto candidates = FindReclaimable(held, Observed({"live-netns"}, {"known-pod"}), 100, 10);
  ASSERT_EQ(candidates.size(), 1u);
  EXPECT_EQ(candidates[0].allocation.container_id, "gone");
  EXPECT_EQ(candidates[0].reason,
            "network namespace /run/netns/gone is gone, no pod default/pod-gone on this node, "
            "held for 100s");
}

TEST(FindReclaimable, OnlyStrictlyOlderThanTheGrace) {
  auto past = FindReclaimable({Held("a", 89)}, Observed({}, {}), 100, 10);
  EXPECT_EQ(past.size(), 1u);
  auto at_grace = FindReclaimable({Held("a", 90)}, Observed({}, {}), 100, 10);
  EXPECT_TRUE(at_grace.empty()) << "whole-second ages: equal may be less than the grace";
}

TEST(FindNotValid, KeepsExactlyTheValidAttachments) {
  ipam::Allocation other_if = Held("a", 0);
  other_if.ifname = "net1";
  auto candidates = FindNotValid({Held("a", 0), other_if, Held("b", 0)}, {{"a", "eth0"}});
  ASSERT_EQ(candidates.size(), 2u);
  EXPECT_EQ(candidates[0].allocation.ifname, "net1");
  EXPECT_EQ(candidates[1].allocation.container_id, "b");
}

}  // namespace
}  // namespace kubedp::control
