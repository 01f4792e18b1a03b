// The pinned conntrack map: listing, flushing and the garbage-collection sweep.
#pragma once

#include <cstdint>
#include <vector>

#include "common/result.h"
#include "control/conntrack.h"

namespace kubedp::datapath {

// CLOCK_MONOTONIC in nanoseconds: the clock of bpf_ktime_get_ns().
uint64_t MonotonicNowNs();

class CtMap {
 public:
  explicit CtMap(int fd) : fd_(fd) {}
  Result<std::vector<control::CtRow>> List(const control::CtFilter& filter) const;
  // Deletes every entry; returns how many.
  Result<uint64_t> Flush();
  // Deletes entries whose lifetime ended before now_ns; returns how many. It
  // only ever expires: a live flow is never removed, also right after a restart.
  Result<uint64_t> Sweep(uint64_t now_ns);
  Result<uint64_t> Count() const;

 private:
  template <typename Visit>
  Status ForEach(Visit visit) const;
  int fd_;
};

}  // namespace kubedp::datapath
