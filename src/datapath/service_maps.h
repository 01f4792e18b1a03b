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
  size_t maglev_tables = 0;
};

// Every frontend with the backends that take new connections
// (UsableBackends): ClusterIPs for traffic from the node's pods; NodePorts
// (on node_ip, host byte order; skipped when 0), LoadBalancer and external
// IPs once per scope, since externalTrafficPolicy narrows only the backends
// of traffic from outside.
struct ServiceMapFds {
  int services = -1;
  int backends = -1;
  int maglev = -1;
  int metrics = -1;  // kdp_svc_metrics
};

// What the datapath counted for one frontend and scope (forward direction).
struct ServiceCounters {
  uint64_t connections = 0;  // new connections given a backend
  uint64_t packets = 0;
  uint64_t bytes = 0;
  uint64_t refused = 0;  // new connections refused: no usable backend
};

// The service map keys of a frontend: ClusterIPs once (pods); NodePorts (on
// node_ip), LoadBalancer and external IPs once per scope.
std::vector<kdp_service_key> ServiceKeysOf(const control::Frontend& frontend, uint32_t node_ip);

// Zero counters for a key the map does not hold.
Result<ServiceCounters> ReadServiceCounters(const ServiceMapFds& maps, const kdp_service_key& key);

// Frontends with Maglev (their annotation, or default_algorithm) get a
// Maglev table over their backends.
Result<ServiceMapStats> ReconcileServiceMaps(
    const ServiceMapFds& maps, const control::ServiceTable& table, const std::string& node,
    uint32_t node_ip = 0, control::LbAlgorithm default_algorithm = control::LbAlgorithm::kRandom);

}  // namespace kubedp::datapath
