// Hands out pod addresses from the node's pod range, one per (container,
// interface), persisted in a Store so CNI invocations in separate processes
// and the agent agree on who holds what.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/ip.h"
#include "common/result.h"
#include "ipam/store.h"

namespace kubedp::ipam {

struct AllocationRequest {
  std::string container_id;
  std::string ifname;
  std::string pod_namespace;
  std::string pod_name;
  std::string netns;
};

class Allocator {
 public:
  // Returns unix seconds; injected so tests control ages without sleeping.
  using Clock = std::function<int64_t()>;

  // range must be /30 or larger: network, gateway and broadcast are never
  // handed out. An empty clock means the wall clock. store must outlive the
  // allocator.
  static Result<Allocator> Create(Store& store, Ipv4Cidr range, Clock now = {});

  // Idempotent: a (container_id, ifname) that already holds an address gets
  // the same allocation back. Otherwise picks the next free address after the
  // one handed out last (wrapping), so a just-released address is reused as
  // late as possible. ENOSPC when the range is full.
  Result<Allocation> Allocate(const AllocationRequest& request);
  // Idempotent, like Store::Release.
  Status Release(std::string_view container_id, std::string_view ifname);

  const Ipv4Cidr& range() const { return range_; }
  // The pods' default router (network + 1), owned by the node.
  uint32_t Gateway() const { return range_.network + 1; }
  // Addresses that can go to pods: all but network, gateway and broadcast.
  uint64_t UsableCount() const { return range_.Size() - 3; }

 private:
  Allocator(Store& store, Ipv4Cidr range, Clock now);

  Result<uint32_t> Pick(const std::vector<Allocation>& current,
                        std::optional<uint32_t> last_allocated, int64_t now) const;
  Status Exhausted(const std::vector<const Allocation*>& holders, int64_t now) const;

  Store* store_;  // a pointer, not a reference, so Allocator stays movable
  Ipv4Cidr range_;
  Clock now_;
};

}  // namespace kubedp::ipam
