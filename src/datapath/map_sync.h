// Writing a desired table into a kernel map as differences: the one mechanism
// behind every reconciled map whose keys are plain ABI structs.
#pragma once

#include <bpf/bpf.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <string>

#include "common/result.h"

namespace kubedp::datapath {

// ABI structs ordered by their bytes (keys are zero-initialised, padding too).
template <typename T>
struct BytewiseLess {
  bool operator()(const T& a, const T& b) const { return std::memcmp(&a, &b, sizeof(T)) < 0; }
};

template <typename Key, typename Value>
using KernelTable = std::map<Key, Value, BytewiseLess<Key>>;

template <typename Key, typename Value>
Result<KernelTable<Key, Value>> DumpMap(int fd, const std::string& what) {
  KernelTable<Key, Value> table;
  Key key{}, next{};
  void* cursor = nullptr;  // NULL starts the walk at the first key
  while (bpf_map_get_next_key(fd, cursor, &next) == 0) {
    Value value{};
    if (bpf_map_lookup_elem(fd, &next, &value) == 0) table[next] = value;
    key = next;
    cursor = &key;
  }
  if (errno != ENOENT) return Status::FromErrno(errno, "iterating " + what);
  return table;
}

struct SyncCounts {
  size_t written = 0;
  size_t deleted = 0;
};

// Writes what is missing or different, then deletes what is not desired:
// an entry that moves is never absent in between.
template <typename Key, typename Value>
Result<SyncCounts> SyncMap(int fd, const KernelTable<Key, Value>& desired,
                           const std::string& what) {
  auto actual = DumpMap<Key, Value>(fd, what);
  if (!actual.ok()) return actual.status();
  SyncCounts counts;
  for (const auto& [key, value] : desired) {
    auto it = actual->find(key);
    if (it != actual->end() && std::memcmp(&it->second, &value, sizeof(Value)) == 0) continue;
    if (bpf_map_update_elem(fd, &key, &value, BPF_ANY) != 0) {
      return Status::FromErrno(errno, "writing " + what);
    }
    ++counts.written;
  }
  for (const auto& [key, value] : *actual) {
    if (desired.contains(key)) continue;
    if (bpf_map_delete_elem(fd, &key) != 0 && errno != ENOENT) {
      return Status::FromErrno(errno, "deleting from " + what);
    }
    ++counts.deleted;
  }
  return counts;
}

}  // namespace kubedp::datapath
