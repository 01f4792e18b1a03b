// The pinned NAT table (kdp_nat) and the non-masquerade prefixes
// (kdp_no_masq): listing, the sweep that retires pairs whose flow is over,
// and writing the configured prefixes as differences.
#pragma once

#include <cstdint>
#include <vector>

#include "common/ip.h"
#include "common/result.h"
#include "control/nat.h"

namespace kubedp::datapath {

class NatMap {
 public:
  explicit NatMap(int fd) : fd_(fd) {}
  Result<std::vector<control::NatRow>> List() const;
  struct SweepResult {
    uint64_t removed = 0;
    uint64_t remaining = 0;
  };
  // Removes every pair whose flow has no live conntrack record (looked up in
  // ct_fd), and halves left alone by an eviction once older than
  // orphan_grace_ns (younger ones may be a pair being written).
  Result<SweepResult> Sweep(int ct_fd, uint64_t now_ns, uint64_t orphan_grace_ns);
  Result<uint64_t> Count() const;

 private:
  int fd_;
};

// Writes the prefixes into kdp_no_masq; returns how many entries it holds.
Result<size_t> ReconcileNoMasqMap(int fd, const std::vector<Ipv4Cidr>& prefixes);

}  // namespace kubedp::datapath
