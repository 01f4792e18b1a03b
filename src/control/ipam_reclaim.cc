#include "control/ipam_reclaim.h"

#include <set>

namespace kubedp::control {

std::vector<ReclaimCandidate> FindReclaimable(const std::vector<ipam::Allocation>& allocations,
                                              const ReclaimObservations& observed, int64_t now,
                                              int64_t grace_seconds) {
  std::vector<ReclaimCandidate> candidates;
  for (const auto& allocation : allocations) {
    int64_t age = now - allocation.created_at;
    // Ages are whole seconds: "older than" must be strictly more, or a grace
    // of 1 s could reclaim an address a moment after it was handed out.
    if (age <= grace_seconds) continue;
    if (observed.netns_exists(allocation)) continue;
    if (observed.pod_known(allocation)) continue;
    candidates.push_back({allocation, "network namespace " + allocation.netns +
                                          " is gone, no pod " + allocation.pod_namespace + "/" +
                                          allocation.pod_name + " on this node, held for " +
                                          std::to_string(age) + "s"});
  }
  return candidates;
}

std::vector<ReclaimCandidate> FindNotValid(const std::vector<ipam::Allocation>& allocations,
                                           const std::vector<Attachment>& valid) {
  std::set<Attachment> keep(valid.begin(), valid.end());
  std::vector<ReclaimCandidate> candidates;
  for (const auto& allocation : allocations) {
    if (keep.count({allocation.container_id, allocation.ifname})) continue;
    candidates.push_back({allocation, "not among the runtime's valid attachments (CNI GC)"});
  }
  return candidates;
}

}  // namespace kubedp::control
