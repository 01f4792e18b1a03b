// NetworkPolicy at scale, on the traffic lab's server pod:
//  - new connections through the ClusterIP with 10k ingress rules on the
//    server against the lab's one rule (interleaved by adding and removing
//    the large policy between rounds);
//  - an allow-from-namespace rule over a namespace of 20k pods on other
//    nodes: how many entries it adds to the server's policy map.
#pragma once

#include <vector>

#include "bench/stats.h"
#include "common/result.h"

namespace kubedp::bench {

class Topologies;

struct PolicyScaleOptions {
  int rounds = 10;
  double seconds = 2.0;
  bool short_mode = false;  // 1k rules, 2k pods
};

Result<std::vector<Row>> MeasurePolicyScale(Topologies& t, const PolicyScaleOptions& options);

}  // namespace kubedp::bench
