#include "datapath/service_maps.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>

#include <cstring>
#include <map>

namespace kubedp::datapath {
namespace {

template <typename T>
struct BytewiseLess {
  bool operator()(const T& a, const T& b) const { return std::memcmp(&a, &b, sizeof(T)) < 0; }
};

template <typename Key, typename Value>
using Table = std::map<Key, Value, BytewiseLess<Key>>;

template <typename Key, typename Value>
Status Reconcile(int fd, const Table<Key, Value>& desired, const char* what) {
  Table<Key, Value> actual;
  Key key{}, next{};
  void* cursor = nullptr;
  while (bpf_map_get_next_key(fd, cursor, &next) == 0) {
    Value value{};
    if (bpf_map_lookup_elem(fd, &next, &value) == 0) actual[next] = value;
    key = next;
    cursor = &key;
  }
  if (errno != ENOENT) return Status::FromErrno(errno, std::string("iterating ") + what);
  for (const auto& [k, v] : desired) {
    auto it = actual.find(k);
    if (it != actual.end() && std::memcmp(&it->second, &v, sizeof(Value)) == 0) continue;
    if (bpf_map_update_elem(fd, &k, &v, BPF_ANY) != 0) {
      return Status::FromErrno(errno, std::string("writing ") + what);
    }
  }
  for (const auto& [k, v] : actual) {
    if (desired.contains(k)) continue;
    if (bpf_map_delete_elem(fd, &k) != 0 && errno != ENOENT) {
      return Status::FromErrno(errno, std::string("deleting from ") + what);
    }
  }
  return Status::Ok();
}

}  // namespace

Result<ServiceMapStats> ReconcileServiceMaps(int services_fd, int backends_fd,
                                             const control::ServiceTable& table,
                                             const std::string& node) {
  Table<kdp_service_key, kdp_service_info> services;
  Table<kdp_backend_key, kdp_backend> backends;
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
  KUBEDP_RETURN_IF_ERROR(Reconcile(backends_fd, backends, "the backend map"));
  KUBEDP_RETURN_IF_ERROR(Reconcile(services_fd, services, "the service map"));
  return ServiceMapStats{services.size(), backends.size()};
}

}  // namespace kubedp::datapath
