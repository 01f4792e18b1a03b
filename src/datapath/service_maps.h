// Writes the compiled Services into kdp_services and kdp_backends: only the
// difference with what the maps hold.
#pragma once

#include <string>

#include "common/result.h"
#include "control/services.h"
#include "kubedp/abi.h"

namespace kubedp::datapath {

struct ServiceMapStats {
  size_t services = 0;
  size_t backends = 0;
};

// Every frontend with the backends that take new connections
// (UsableBackends): ClusterIPs for traffic from the node's pods; NodePorts
// (on node_ip, host byte order; skipped when 0), LoadBalancer and external
// IPs once per scope, since externalTrafficPolicy narrows only the backends
// of traffic from outside.
Result<ServiceMapStats> ReconcileServiceMaps(int services_fd, int backends_fd,
                                             const control::ServiceTable& table,
                                             const std::string& node, uint32_t node_ip = 0);

}  // namespace kubedp::datapath
