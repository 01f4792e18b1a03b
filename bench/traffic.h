// Traffic between two pods on a node, kubedp against the bare kernel path,
// measured A B A B ...: the kubedp side is a lab (client and server pods, the
// server behind a ClusterIP under an ingress policy); the bare side the same
// topology (client netns -- veth -- node netns -- veth -- server netns) with
// kernel routing and no programs or netfilter rules. Client threads are
// pinned to CPU 0, servers to CPU 1.
#pragma once

#include <string>
#include <vector>

#include "bench/stats.h"
#include "common/result.h"

namespace kubedp::bench {

struct TrafficOptions {
  int rounds = 10;
  double seconds = 2.0;     // per round and side
  bool throughput = true;   // iperf3
  bool short_mode = false;  // fewer conntrack records to sweep
};

Result<std::vector<Row>> MeasureTraffic(const TrafficOptions& options);

}  // namespace kubedp::bench
