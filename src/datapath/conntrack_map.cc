#include "datapath/conntrack_map.h"

#include <bpf/bpf.h>
#include <time.h>

#include "datapath/map_sync.h"

namespace kubedp::datapath {

uint64_t MonotonicNowNs() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1000000000ull + static_cast<uint64_t>(now.tv_nsec);
}

template <typename Visit>
Status CtMap::ForEach(Visit visit) const {
  return ForEachEntry<kdp_ct_key, kdp_ct_entry>(fd_, "the conntrack map", visit);
}

Result<std::vector<control::CtRow>> CtMap::List(const control::CtFilter& filter) const {
  std::vector<control::CtRow> rows;
  uint64_t now = MonotonicNowNs();
  Status status = ForEach([&](const kdp_ct_key& key, const kdp_ct_entry& entry) {
    control::CtRow row = control::ToCtRow(key, entry, now);
    if (filter.Matches(row)) rows.push_back(row);
  });
  if (!status.ok()) return status;
  return rows;
}

Result<uint64_t> CtMap::Flush() {
  uint64_t deleted = 0;
  Status status = ForEach([&](const kdp_ct_key& key, const kdp_ct_entry&) {
    if (bpf_map_delete_elem(fd_, &key) == 0) ++deleted;
  });
  if (!status.ok()) return status;
  return deleted;
}

Result<uint64_t> CtMap::Sweep(uint64_t now_ns) {
  uint64_t deleted = 0;
  Status status = ForEach([&](const kdp_ct_key& key, const kdp_ct_entry& entry) {
    if (entry.expires_ns >= now_ns) return;
    // Re-read: the datapath may have refreshed the entry since the walk.
    kdp_ct_entry current{};
    if (bpf_map_lookup_elem(fd_, &key, &current) != 0 || current.expires_ns >= now_ns) return;
    if (bpf_map_delete_elem(fd_, &key) == 0) ++deleted;
  });
  if (!status.ok()) return status;
  return deleted;
}

Result<uint64_t> CtMap::Count() const {
  uint64_t count = 0;
  Status status = ForEach([&](const kdp_ct_key&, const kdp_ct_entry&) { ++count; });
  if (!status.ok()) return status;
  return count;
}

}  // namespace kubedp::datapath
