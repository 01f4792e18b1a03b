// The conntrack table at scale: memory per entry of kdp_ct, and the CPU time
// of the agent's garbage-collection sweep (in the kernel) over it, half the
// entries expired, against the same sweep done key by key from user space.
#pragma once

#include <vector>

#include "bench/stats.h"
#include "common/result.h"

namespace kubedp::bench {

struct CtScaleOptions {
  int rounds = 3;
  uint32_t entries = 1'000'000;
};

Result<std::vector<Row>> MeasureConntrackScale(const CtScaleOptions& options);

// Fills a kdp_ct map with `count` synthetic TCP flows between 10.244.0.x and
// 10.245.0.0:80 (no lab pod uses them); every other one already expired when
// half_expired, else all live.
Status FillConntrack(int fd, uint32_t count, bool half_expired);
// Removes what FillConntrack put there (and is still there), so later
// benchmarks meet a table with room.
Status RemoveSyntheticConntrack(int fd, uint32_t count);

}  // namespace kubedp::bench
