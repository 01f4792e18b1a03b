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

}  // namespace kubedp::bench
