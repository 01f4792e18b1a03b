#include "datapath/service_maps.h"

#include <arpa/inet.h>

#include <bpf/libbpf.h>

#include <algorithm>
#include <set>

#include "common/ip.h"
#include "control/maglev.h"
#include "datapath/map_sync.h"

namespace kubedp::datapath {

namespace {

Status ClearServiceCounters(int fd, uint32_t id) {
  std::vector<kdp_service_metric> zero(libbpf_num_possible_cpus());
  if (bpf_map_update_elem(fd, &id, zero.data(), BPF_ANY) != 0) {
    return Status::FromErrno(errno, "clearing the counters of service " + std::to_string(id));
  }
  return Status::Ok();
}

// One (frontend, scope) as the service map keys it.
struct Entry {
  const control::Frontend* frontend;
  kdp_service_key key;
};

std::vector<Entry> EntriesOf(const control::ServiceTable& table, uint32_t node_ip) {
  std::vector<Entry> entries;
  for (const auto& frontend : table.frontends) {
    for (const auto& key : ServiceKeysOf(frontend, node_ip)) entries.push_back({&frontend, key});
  }
  return entries;
}

// Service ids stay with their frontend across changes and restarts (read
// back from the pinned map), so counters, affinity and Maglev tables are not
// reshuffled when another Service comes or goes. New frontends take the
// lowest free ids; returned: the ids per entry and the ids set free.
std::pair<std::vector<uint32_t>, std::vector<uint32_t>> AssignIds(
    const std::vector<Entry>& entries, const KernelTable<kdp_service_key, kdp_service_info>& held) {
  std::vector<uint32_t> ids(entries.size(), 0);
  std::set<uint32_t> used;
  for (size_t i = 0; i < entries.size(); ++i) {
    auto it = held.find(entries[i].key);
    if (it != held.end() && used.insert(it->second.service_id).second) {
      ids[i] = it->second.service_id;
    }
  }
  uint32_t candidate = 1;
  for (auto& id : ids) {
    if (id != 0) continue;
    while (used.contains(candidate)) ++candidate;
    id = candidate;
    used.insert(candidate);
  }
  std::vector<uint32_t> freed;
  for (const auto& [key, info] : held) {
    if (!used.contains(info.service_id)) freed.push_back(info.service_id);
  }
  return {ids, freed};
}

struct ServiceKernelTables {
  KernelTable<kdp_service_key, kdp_service_info> services;
  KernelTable<kdp_backend_key, kdp_backend> backends;
  KernelTable<uint32_t, kdp_maglev_table> maglev;
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

  void Add(const Entry& entry, uint32_t service_id, const std::string& node) {
    const control::Frontend& frontend = *entry.frontend;
    bool external = entry.key.scope == KDP_SCOPE_EXTERNAL;
    auto usable = control::UsableBackends(frontend, external, node);
    services[entry.key] = kdp_service_info{
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
  auto held = DumpMap<kdp_service_key, kdp_service_info>(maps.services, "the service map");
  if (!held.ok()) return held.status();
  std::vector<Entry> entries = EntriesOf(table, node_ip);
  auto [ids, freed] = AssignIds(entries, *held);
  ServiceKernelTables tables;
  tables.default_algorithm = default_algorithm;
  for (size_t i = 0; i < entries.size(); ++i) tables.Add(entries[i], ids[i], node);
  // A freed id starts from zero when it is handed out again.
  if (maps.metrics >= 0) {
    for (uint32_t id : freed) KUBEDP_RETURN_IF_ERROR(ClearServiceCounters(maps.metrics, id));
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

namespace kubedp::datapath {

std::vector<kdp_service_key> ServiceKeysOf(const control::Frontend& frontend, uint32_t node_ip) {
  auto key = [&](uint32_t vip, kdp_service_scope scope) {
    return kdp_service_key{.vip = htonl(vip),
                           .port = htons(frontend.port),
                           .protocol = frontend.protocol,
                           .scope = static_cast<uint8_t>(scope)};
  };
  if (frontend.kind == control::FrontendKind::kClusterIP) {
    return {key(frontend.ip, KDP_SCOPE_INTERNAL)};
  }
  // NodePort: the node's own address; without a node device, none.
  uint32_t vip = frontend.kind == control::FrontendKind::kNodePort ? node_ip : frontend.ip;
  if (vip == 0) return {};
  return {key(vip, KDP_SCOPE_INTERNAL), key(vip, KDP_SCOPE_EXTERNAL)};
}

Result<ServiceCounters> ReadServiceCounters(const ServiceMapFds& maps, const kdp_service_key& key) {
  kdp_service_info info{};
  if (bpf_map_lookup_elem(maps.services, &key, &info) != 0) return ServiceCounters{};
  std::vector<kdp_service_metric> per_cpu(libbpf_num_possible_cpus());
  if (bpf_map_lookup_elem(maps.metrics, &info.service_id, per_cpu.data()) != 0) {
    return Status::FromErrno(errno, "reading service counters");
  }
  ServiceCounters total;
  for (const auto& cpu : per_cpu) {
    total.connections += cpu.connections;
    total.packets += cpu.packets;
    total.bytes += cpu.bytes;
    total.refused += cpu.refused;
  }
  return total;
}

}  // namespace kubedp::datapath
