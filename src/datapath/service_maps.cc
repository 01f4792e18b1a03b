#include "datapath/service_maps.h"

#include <arpa/inet.h>

#include "datapath/map_sync.h"

namespace kubedp::datapath {

namespace {

struct ServiceKernelTables {
  KernelTable<kdp_service_key, kdp_service_info> services;
  KernelTable<kdp_backend_key, kdp_backend> backends;
  uint32_t next_id = 0;

  void Add(const control::Frontend& frontend, uint32_t vip, kdp_service_scope scope,
           const std::string& node) {
    uint32_t service_id = ++next_id;
    bool external = scope == KDP_SCOPE_EXTERNAL;
    auto usable = control::UsableBackends(frontend, external, node);
    kdp_service_key key{.vip = htonl(vip),
                        .port = htons(frontend.port),
                        .protocol = frontend.protocol,
                        .scope = static_cast<uint8_t>(scope)};
    services[key] = kdp_service_info{
        .service_id = service_id,
        .backend_count = static_cast<uint16_t>(usable.size()),
        .flags =
            static_cast<uint16_t>(frontend.affinity_timeout_seconds ? KDP_SERVICE_F_AFFINITY : 0),
        .affinity_timeout_s = frontend.affinity_timeout_seconds};
    for (uint32_t slot = 0; slot < usable.size(); ++slot) {
      backends[{service_id, slot}] =
          kdp_backend{.addr = htonl(usable[slot].ip), .port = htons(usable[slot].port)};
    }
  }
};

}  // namespace

Result<ServiceMapStats> ReconcileServiceMaps(int services_fd, int backends_fd,
                                             const control::ServiceTable& table,
                                             const std::string& node, uint32_t node_ip) {
  ServiceKernelTables tables;
  for (const auto& frontend : table.frontends) {
    if (frontend.kind == control::FrontendKind::kClusterIP) {
      tables.Add(frontend, frontend.ip, KDP_SCOPE_INTERNAL, node);
      continue;
    }
    // NodePort: the node's own address; without a node device, none.
    uint32_t vip = frontend.kind == control::FrontendKind::kNodePort ? node_ip : frontend.ip;
    if (vip == 0) continue;
    tables.Add(frontend, vip, KDP_SCOPE_INTERNAL, node);
    tables.Add(frontend, vip, KDP_SCOPE_EXTERNAL, node);
  }
  auto& services = tables.services;
  auto& backends = tables.backends;
  // Backends first: a service entry never counts slots that are not there yet.
  if (auto synced = SyncMap(backends_fd, backends, "the backend map"); !synced.ok()) {
    return synced.status();
  }
  if (auto synced = SyncMap(services_fd, services, "the service map"); !synced.ok()) {
    return synced.status();
  }
  return ServiceMapStats{services.size(), backends.size()};
}

}  // namespace kubedp::datapath
