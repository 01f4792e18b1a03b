#include "datapath/service_maps.h"

#include <arpa/inet.h>

#include <algorithm>

#include "common/ip.h"
#include "control/maglev.h"
#include "datapath/map_sync.h"

namespace kubedp::datapath {

namespace {

struct ServiceKernelTables {
  KernelTable<kdp_service_key, kdp_service_info> services;
  KernelTable<kdp_backend_key, kdp_backend> backends;
  KernelTable<uint32_t, kdp_maglev_table> maglev;
  uint32_t next_id = 0;
  control::LbAlgorithm default_algorithm = control::LbAlgorithm::kRandom;

  bool UsesMaglev(const control::Frontend& frontend) const {
    control::LbAlgorithm algorithm = frontend.algorithm == control::LbAlgorithm::kDefault
                                         ? default_algorithm
                                         : frontend.algorithm;
    return algorithm == control::LbAlgorithm::kMaglev;
  }

  void AddMaglevTable(uint32_t service_id, const std::vector<control::Backend>& usable) {
    std::vector<std::string> names;
    for (const auto& backend : usable) {
      names.push_back(FormatIpv4(backend.ip) + ":" + std::to_string(backend.port));
    }
    kdp_maglev_table table{};
    std::vector<uint32_t> slots = control::MaglevTable(names, KDP_MAGLEV_SIZE);
    std::copy(slots.begin(), slots.end(), table.slots);
    maglev[service_id] = table;
  }

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
            static_cast<uint16_t>((frontend.affinity_timeout_seconds ? KDP_SERVICE_F_AFFINITY : 0) |
                                  (UsesMaglev(frontend) ? KDP_SERVICE_F_MAGLEV : 0)),
        .affinity_timeout_s = frontend.affinity_timeout_seconds};
    for (uint32_t slot = 0; slot < usable.size(); ++slot) {
      backends[{service_id, slot}] =
          kdp_backend{.addr = htonl(usable[slot].ip), .port = htons(usable[slot].port)};
    }
    if (UsesMaglev(frontend) && !usable.empty()) AddMaglevTable(service_id, usable);
  }
};

}  // namespace

Result<ServiceMapStats> ReconcileServiceMaps(const ServiceMapFds& maps,
                                             const control::ServiceTable& table,
                                             const std::string& node, uint32_t node_ip,
                                             control::LbAlgorithm default_algorithm) {
  ServiceKernelTables tables;
  tables.default_algorithm = default_algorithm;
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
  // Backends and tables first: a service entry never points at slots that
  // are not there yet.
  if (auto synced = SyncMap(maps.backends, backends, "the backend map"); !synced.ok()) {
    return synced.status();
  }
  if (maps.maglev >= 0) {
    if (auto synced = SyncMap(maps.maglev, tables.maglev, "the Maglev map"); !synced.ok()) {
      return synced.status();
    }
  }
  if (auto synced = SyncMap(maps.services, services, "the service map"); !synced.ok()) {
    return synced.status();
  }
  return ServiceMapStats{services.size(), backends.size(), tables.maglev.size()};
}

}  // namespace kubedp::datapath
