#include "datapath/conntrack_map.h"

#include <bpf/bpf.h>
#include <time.h>

namespace kubedp::datapath {

uint64_t MonotonicNowNs() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1000000000ull + static_cast<uint64_t>(now.tv_nsec);
}

// Reads the table a batch of buckets at a time (one syscall for thousands of
// flows, where a key-by-key walk takes two each). Visiting may delete what it
// was given: the batch cursor is a bucket index, unaffected by that.
template <typename Visit>
Status CtMap::ForEach(Visit visit) const {
  constexpr uint32_t kBatch = 4096;
  std::vector<kdp_ct_key> keys(kBatch);
  std::vector<kdp_ct_entry> values(kBatch);
  uint64_t cursor = 0, next = 0;  // opaque batch tokens (a bucket index)
  bool first = true;
  while (true) {
    uint32_t count = kBatch;
    int err = bpf_map_lookup_batch(fd_, first ? nullptr : &cursor, &next, keys.data(),
                                   values.data(), &count, nullptr);
    int saved = errno;
    for (uint32_t i = 0; i < count; ++i) visit(keys[i], values[i]);
    if (err != 0) {
      if (saved == ENOENT) return Status::Ok();  // the end of the table
      return Status::FromErrno(saved, "reading the conntrack map");
    }
    cursor = next;
    first = false;
  }
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
