#include "ipam/allocator.h"

#include <algorithm>
#include <chrono>
#include <unordered_set>
#include <utility>

#include "common/log.h"

namespace kubedp::ipam {
namespace {

// How many holders the exhaustion error names: enough to spot leaked
// addresses of long-gone pods without flooding the kubelet event.
constexpr size_t kHoldersShown = 3;

int64_t WallClockSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Container ids are 64 hex digits; 12 is what docker, crictl and kubectl show.
std::string ShortId(std::string_view container_id) {
  return std::string(container_id.substr(0, 12));
}

std::string PodName(const std::string& pod_namespace, const std::string& pod_name) {
  if (pod_namespace.empty() && pod_name.empty()) return "(unknown pod)";
  return pod_namespace + "/" + pod_name;
}

}  // namespace

Result<Allocator> Allocator::Create(Store& store, Ipv4Cidr range, Clock now) {
  if (range.prefix_len > 30) {
    return Status::Invalid("pod range " + range.ToString() +
                           " is too small: it must leave room for the network, gateway and "
                           "broadcast addresses and at least one pod (use /30 or larger)");
  }
  if (!now) now = WallClockSeconds;
  return Allocator(store, range, std::move(now));
}

Allocator::Allocator(Store& store, Ipv4Cidr range, Clock now)
    : store_(&store), range_(range), now_(std::move(now)) {}

Result<Allocation> Allocator::Allocate(const AllocationRequest& request) {
  if (request.container_id.empty() || request.ifname.empty()) {
    return Status::Invalid("allocating an address: container id and interface name are required");
  }
  const int64_t now = now_();
  NewAllocation record{request.container_id, request.ifname, request.pod_namespace,
                       request.pod_name,     request.netns,  now};
  // The store only calls the picker when no allocation exists yet; that tells
  // a fresh allocation (worth a log line) from an idempotent repeat.
  bool picked = false;
  Result<Allocation> allocation = store_->Insert(
      record, [&](const std::vector<Allocation>& current, std::optional<uint32_t> last_allocated) {
        picked = true;
        return Pick(current, last_allocated, now);
      });
  if (allocation.ok() && picked) {
    log::Info("allocated address", {{"ip", FormatIpv4(allocation->ip)},
                                    {"container", ShortId(request.container_id)},
                                    {"ifname", request.ifname},
                                    {"pod", PodName(request.pod_namespace, request.pod_name)},
                                    {"endpoint_id", std::to_string(allocation->endpoint_id)}});
  }
  return allocation;
}

Status Allocator::Release(std::string_view container_id, std::string_view ifname) {
  // Looked up first only to log what was freed; the delete is what counts.
  Result<std::optional<Allocation>> held = store_->Find(container_id, ifname);
  KUBEDP_RETURN_IF_ERROR(held.status());
  KUBEDP_RETURN_IF_ERROR(store_->Release(container_id, ifname));
  if (held->has_value()) {
    const Allocation& a = **held;
    log::Info("released address", {{"ip", FormatIpv4(a.ip)},
                                   {"container", ShortId(container_id)},
                                   {"ifname", std::string(ifname)},
                                   {"pod", PodName(a.pod_namespace, a.pod_name)}});
  }
  return Status::Ok();
}

Result<uint32_t> Allocator::Pick(const std::vector<Allocation>& current,
                                 std::optional<uint32_t> last_allocated, int64_t now) const {
  const uint32_t first = range_.network + 2;
  const uint32_t last = range_.Broadcast() - 1;
  // Allocations outside the range (left from an earlier pod CIDR) don't use
  // up this one; current is oldest first, so holders is too.
  std::unordered_set<uint32_t> taken;
  std::vector<const Allocation*> holders;
  for (const Allocation& a : current) {
    if (a.ip < first || a.ip > last) continue;
    taken.insert(a.ip);
    holders.push_back(&a);
  }
  if (taken.size() >= UsableCount()) return Exhausted(holders, now);

  // A free address exists, so this walks at most taken.size() + 1 steps.
  const bool cursor_in_range = last_allocated && *last_allocated >= first && *last_allocated < last;
  uint32_t candidate = cursor_in_range ? *last_allocated + 1 : first;
  while (taken.contains(candidate)) candidate = candidate == last ? first : candidate + 1;
  return candidate;
}

Status Allocator::Exhausted(const std::vector<const Allocation*>& holders, int64_t now) const {
  std::string message = "no free address in pod range " + range_.ToString() + ": " +
                        std::to_string(holders.size()) + " of " + std::to_string(UsableCount()) +
                        " usable addresses allocated; oldest holders: ";
  const size_t shown = std::min(holders.size(), kHoldersShown);
  for (size_t i = 0; i < shown; ++i) {
    const Allocation& a = *holders[i];
    // A clock that stepped backwards must not print a negative age.
    const int64_t age = std::max<int64_t>(0, now - a.created_at);
    if (i > 0) message += ", ";
    message += PodName(a.pod_namespace, a.pod_name) + " (container " + ShortId(a.container_id) +
               ", " + std::to_string(age) + "s)";
  }
  message += "; run 'kubedp ipam gc' to free addresses of pods that are gone";
  return Status::Error(ENOSPC, std::move(message));
}

}  // namespace kubedp::ipam
