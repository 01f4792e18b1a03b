// Services at scale, kubedp against kube-proxy's iptables and nftables modes
// programmed into the same topology by hand (IPVS needs IP_VS in the kernel;
// without it the row says so):
//  - new connections per second through a ClusterIP with 1, 10k and 30k
//    Services programmed (flatness, and the ratio to each kube-proxy mode);
//  - bulk apply: 10k Services with 100k endpoints from manifests into the
//    datapath, against iptables-restore of the same rules;
//  - incremental change: one endpoint added or removed, live when a packet
//    shows it, with 10k and 30k Services and 1k policies loaded;
//  - the agent's resident memory at 10k Services, 100k endpoints, 1k policies.
#pragma once

#include <vector>

#include "bench/stats.h"
#include "common/result.h"

namespace kubedp::bench {

struct ServiceScaleOptions {
  int rounds = 10;
  double seconds = 2.0;     // per round and side (connects)
  bool short_mode = false;  // 1 and 1000 Services, few rounds
};

Result<std::vector<Row>> MeasureServiceScale(const ServiceScaleOptions& options);

}  // namespace kubedp::bench
