// Per-packet cost of the pod program, measured in the kernel with
// BPF_PROG_TEST_RUN against an empty tc program run the same way: an
// established flow through a ClusterIP under policy, and the first packet of a
// new flow (Service translation, policy, conntrack create).
#pragma once

#include <vector>

#include "bench/stats.h"
#include "common/result.h"

namespace kubedp::bench {

struct ProgCostOptions {
  int rounds = 10;
  int packets = 2000;  // per round and side
};

Result<std::vector<Row>> MeasureProgramCost(const ProgCostOptions& options);

}  // namespace kubedp::bench
