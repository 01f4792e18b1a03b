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

// ClusterIP frontends, for traffic from the node's pods; each Service's
// backends are the ones that take new connections (UsableBackends).
Result<ServiceMapStats> ReconcileServiceMaps(int services_fd, int backends_fd,
                                             const control::ServiceTable& table,
                                             const std::string& node);

}  // namespace kubedp::datapath
