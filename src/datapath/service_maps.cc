#include "datapath/service_maps.h"

#include <arpa/inet.h>

#include "datapath/map_sync.h"

namespace kubedp::datapath {

Result<ServiceMapStats> ReconcileServiceMaps(int services_fd, int backends_fd,
                                             const control::ServiceTable& table,
                                             const std::string& node) {
  KernelTable<kdp_service_key, kdp_service_info> services;
  KernelTable<kdp_backend_key, kdp_backend> backends;
  uint32_t service_id = 0;
  for (const auto& frontend : table.frontends) {
    if (frontend.kind != control::FrontendKind::kClusterIP) continue;
    ++service_id;
    auto usable = control::UsableBackends(frontend, /*external_traffic=*/false, node);
    kdp_service_key key{
        .vip = htonl(frontend.ip), .port = htons(frontend.port), .protocol = frontend.protocol};
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
