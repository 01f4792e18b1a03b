#include "datapath/maps.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "control/diff.h"

namespace kubedp::datapath {

Result<UniqueFd> OpenPinned(const std::string& path) {
  int fd = bpf_obj_get(path.c_str());
  if (fd < 0) return Status::FromErrno(errno, "opening pinned object " + path);
  return UniqueFd(fd);
}

Result<UniqueFd> OpenProgramById(uint32_t id) {
  int fd = bpf_prog_get_fd_by_id(id);
  if (fd < 0) return Status::FromErrno(errno, "opening program id " + std::to_string(id));
  return UniqueFd(fd);
}

Status EndpointMap::Upsert(uint32_t ip, const kdp_endpoint_info& info) {
  kdp_endpoint_key key{.ip = ip};
  if (bpf_map_update_elem(fd_, &key, &info, BPF_ANY) != 0) {
    return Status::FromErrno(errno, "writing endpoint map");
  }
  return Status::Ok();
}

Status EndpointMap::Delete(uint32_t ip) {
  kdp_endpoint_key key{.ip = ip};
  if (bpf_map_delete_elem(fd_, &key) != 0 && errno != ENOENT) {
    return Status::FromErrno(errno, "deleting from endpoint map");
  }
  return Status::Ok();
}

Result<control::EndpointTable> EndpointMap::Dump() const {
  control::EndpointTable table;
  kdp_endpoint_key key{};
  kdp_endpoint_key next{};
  void* cursor = nullptr;  // NULL starts the iteration at the first key
  while (bpf_map_get_next_key(fd_, cursor, &next) == 0) {
    kdp_endpoint_info info{};
    if (bpf_map_lookup_elem(fd_, &next, &info) == 0) table[next.ip] = info;
    key = next;
    cursor = &key;
  }
  if (errno != ENOENT) return Status::FromErrno(errno, "iterating endpoint map");
  return table;
}

Status EndpointMap::Reconcile(const control::EndpointTable& desired) {
  auto actual = Dump();
  if (!actual.ok()) return actual.status();
  auto delta = control::DiffTables(desired, *actual, control::SameEndpointInfo);
  for (const auto& [ip, info] : delta.upserts) KUBEDP_RETURN_IF_ERROR(Upsert(ip, info));
  for (uint32_t ip : delta.deletes) KUBEDP_RETURN_IF_ERROR(Delete(ip));
  return Status::Ok();
}

Result<std::vector<MetricRow>> MetricsMap::Read() const {
  int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return Status::FromErrno(cpus, "counting possible CPUs");
  std::vector<kdp_metric> per_cpu(static_cast<size_t>(cpus));
  std::vector<MetricRow> rows;
  for (uint32_t index = 0; index < KDP_METRICS_MAX; ++index) {
    if (bpf_map_lookup_elem(fd_, &index, per_cpu.data()) != 0) {
      return Status::FromErrno(errno, "reading metrics map");
    }
    MetricRow row{.reason = index / KDP_DIR_MAX, .direction = index % KDP_DIR_MAX};
    for (const auto& slot : per_cpu) {
      row.packets += slot.packets;
      row.bytes += slot.bytes;
    }
    if (row.packets > 0) rows.push_back(row);
  }
  return rows;
}

namespace {

Result<uint64_t> CountKeys(int fd, uint32_t key_size) {
  std::vector<uint8_t> key(key_size), next(key_size);
  uint64_t count = 0;
  void* cursor = nullptr;
  while (bpf_map_get_next_key(fd, cursor, next.data()) == 0) {
    ++count;
    key.swap(next);
    cursor = key.data();
  }
  if (errno != ENOENT) return Status::FromErrno(errno, "counting map entries");
  return count;
}

}  // namespace

Result<MapFill> DescribeMap(int fd) {
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) {
    return Status::FromErrno(errno, "reading map info");
  }
  MapFill fill{.name = info.name,
               .type = libbpf_bpf_map_type_str(static_cast<bpf_map_type>(info.type)),
               .max_entries = info.max_entries};
  bool keyed = info.type == BPF_MAP_TYPE_HASH || info.type == BPF_MAP_TYPE_LRU_HASH ||
               info.type == BPF_MAP_TYPE_LPM_TRIE || info.type == BPF_MAP_TYPE_PERCPU_HASH ||
               info.type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
  if (keyed) {
    auto count = CountKeys(fd, info.key_size);
    if (!count.ok()) return count.status();
    fill.entries = *count;
  } else if (info.type != BPF_MAP_TYPE_RINGBUF) {
    fill.entries = info.max_entries;
  }
  return fill;
}

}  // namespace kubedp::datapath
