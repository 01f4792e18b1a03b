// Which address allocations belong to pods that are gone. Pure: the caller
// supplies what it observed (does the netns exist, does the cluster know the
// pod), this decides, so the rule is unit-tested without a kernel.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <tuple>
#include <vector>

#include "ipam/store.h"

namespace kubedp::control {

struct ReclaimObservations {
  // Whether the allocation's network namespace path still exists.
  std::function<bool(const ipam::Allocation&)> netns_exists;
  // Whether the cluster state has this pod on this node.
  std::function<bool(const ipam::Allocation&)> pod_known;
};

struct ReclaimCandidate {
  ipam::Allocation allocation;
  std::string reason;
};

// An allocation is reclaimed only when all three hold: its netns is gone, no
// such pod is on this node, and it is older than the grace period (so an ADD
// still in flight, whose pod the cluster may not show yet, is never touched).
std::vector<ReclaimCandidate> FindReclaimable(const std::vector<ipam::Allocation>& allocations,
                                              const ReclaimObservations& observed, int64_t now,
                                              int64_t grace_seconds);

// Allocations not named in a CNI GC's valid attachments (container id, ifname).
struct Attachment {
  std::string container_id;
  std::string ifname;
  bool operator<(const Attachment& other) const {
    return std::tie(container_id, ifname) < std::tie(other.container_id, other.ifname);
  }
};
std::vector<ReclaimCandidate> FindNotValid(const std::vector<ipam::Allocation>& allocations,
                                           const std::vector<Attachment>& valid);

}  // namespace kubedp::control
