// Writing a desired table into a kernel map as differences: the one mechanism
// behind every reconciled map whose keys are plain ABI structs.
#pragma once

#include <bpf/bpf.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "common/result.h"

namespace kubedp::datapath {

// ABI structs ordered by their bytes (keys are zero-initialised, padding too).
template <typename T>
struct BytewiseLess {
  bool operator()(const T& a, const T& b) const { return std::memcmp(&a, &b, sizeof(T)) < 0; }
};

template <typename Key, typename Value>
using KernelTable = std::map<Key, Value, BytewiseLess<Key>>;

// Visits every entry in batches where the map type allows it (hash maps: one
// call for thousands of entries, where a key-by-key walk takes two each; LPM
// tries through the kernel's generic walk), else key by key. Visiting may
// delete what it was given: for hash maps a batch cursor is a bucket index.
// `batch` bounds the entries of one call: the kernel is not preempted within
// a call, so a caller sharing the CPU with latency-bound work keeps it small.
template <typename Key, typename Value, typename Visit>
Status ForEachEntry(int fd, const std::string& what, Visit visit, uint32_t batch = 4096) {
  std::vector<Key> keys(batch);
  std::vector<Value> values(batch);
  // Opaque batch tokens: a bucket index for hash maps, a whole key for the
  // kernel's generic batch walk (LPM tries), so room for either.
  using Token = std::array<uint8_t, std::max(sizeof(Key), sizeof(uint64_t))>;
  Token cursor{}, next{};
  for (bool first = true;; first = false) {
    uint32_t count = batch;
    int err = bpf_map_lookup_batch(fd, first ? nullptr : cursor.data(), next.data(), keys.data(),
                                   values.data(), &count, nullptr);
    int saved = errno;
    if (err != 0 && first && saved != ENOENT) break;  // no batch support: walk below
    for (uint32_t i = 0; i < count; ++i) visit(keys[i], values[i]);
    if (err != 0) {
      if (saved == ENOENT) return Status::Ok();  // the end of the table
      return Status::FromErrno(saved, "reading " + what);
    }
    cursor = next;
  }
  Key key{}, at{};
  void* position = nullptr;  // NULL starts the walk at the first key
  while (bpf_map_get_next_key(fd, position, &at) == 0) {
    Value value{};
    if (bpf_map_lookup_elem(fd, &at, &value) == 0) visit(at, value);
    key = at;
    position = &key;
  }
  if (errno != ENOENT) return Status::FromErrno(errno, "iterating " + what);
  return Status::Ok();
}

template <typename Key, typename Value>
Result<KernelTable<Key, Value>> DumpMap(int fd, const std::string& what) {
  KernelTable<Key, Value> table;
  Status status = ForEachEntry<Key, Value>(
      fd, what, [&](const Key& key, const Value& value) { table.emplace(key, value); });
  if (!status.ok()) return status;
  return table;
}

// Writes entries in batches where the map type allows it, else one by one.
template <typename Key, typename Value>
Status WriteEntries(int fd, const std::vector<Key>& keys, const std::vector<Value>& values,
                    const std::string& what) {
  uint32_t count = static_cast<uint32_t>(keys.size());
  if (count == 0) return Status::Ok();
  if (bpf_map_update_batch(fd, keys.data(), values.data(), &count, nullptr) == 0) {
    return Status::Ok();
  }
  if (errno != EINVAL && errno != ENOTSUP && errno != 524 /* ENOTSUPP */) {
    return Status::FromErrno(errno, "writing " + what);
  }
  for (size_t i = count; i < keys.size(); ++i) {  // count: how many the batch wrote
    if (bpf_map_update_elem(fd, &keys[i], &values[i], BPF_ANY) != 0) {
      return Status::FromErrno(errno, "writing " + what);
    }
  }
  return Status::Ok();
}

struct SyncCounts {
  size_t written = 0;
  size_t deleted = 0;
};

// Writes what is missing or different, then deletes what is not desired:
// an entry that moves is never absent in between. The kernel's entries are
// read into a sorted vector and walked beside the (sorted) desired table:
// with 100k entries, building a tree of them cost more than the syscalls.
template <typename Key, typename Value>
Result<SyncCounts> SyncMap(int fd, const KernelTable<Key, Value>& desired,
                           const std::string& what) {
  std::vector<std::pair<Key, Value>> actual;
  KUBEDP_RETURN_IF_ERROR((ForEachEntry<Key, Value>(
      fd, what, [&](const Key& key, const Value& value) { actual.emplace_back(key, value); })));
  BytewiseLess<Key> less;
  std::sort(actual.begin(), actual.end(),
            [&](const auto& a, const auto& b) { return less(a.first, b.first); });
  std::vector<Key> write_keys, stale_keys;
  std::vector<Value> write_values;
  auto held = actual.begin();
  for (const auto& [key, value] : desired) {
    for (; held != actual.end() && less(held->first, key); ++held)
      stale_keys.push_back(held->first);
    bool same_key = held != actual.end() && !less(key, held->first);
    if (same_key && std::memcmp(&held->second, &value, sizeof(Value)) == 0) {
      ++held;
      continue;
    }
    if (same_key) ++held;
    write_keys.push_back(key);
    write_values.push_back(value);
  }
  for (; held != actual.end(); ++held) stale_keys.push_back(held->first);
  KUBEDP_RETURN_IF_ERROR(WriteEntries(fd, write_keys, write_values, what));
  for (const Key& key : stale_keys) {
    if (bpf_map_delete_elem(fd, &key) != 0 && errno != ENOENT) {
      return Status::FromErrno(errno, "deleting from " + what);
    }
  }
  return SyncCounts{.written = write_keys.size(), .deleted = stale_keys.size()};
}

}  // namespace kubedp::datapath
