// Reconcile, don't replay: the difference between a desired table and what a
// pinned map holds, as the minimal list of writes that makes them equal.
#pragma once

#include <map>
#include <utility>
#include <vector>

namespace kubedp::control {

template <typename K, typename V>
struct TableDelta {
  std::vector<std::pair<K, V>> upserts;  // missing or different in the map
  std::vector<K> deletes;                // in the map, not desired
  bool Empty() const { return upserts.empty() && deletes.empty(); }
};

template <typename K, typename V, typename Equal>
TableDelta<K, V> DiffTables(const std::map<K, V>& desired, const std::map<K, V>& actual,
                            Equal equal) {
  TableDelta<K, V> delta;
  for (const auto& [key, value] : desired) {
    auto it = actual.find(key);
    if (it == actual.end() || !equal(it->second, value)) delta.upserts.emplace_back(key, value);
  }
  for (const auto& [key, value] : actual) {
    if (!desired.contains(key)) delta.deletes.push_back(key);
  }
  return delta;
}

}  // namespace kubedp::control
