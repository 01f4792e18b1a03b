// Typed views over the pinned maps: the only code that reads or writes them.
// Tests fill maps through these too, so the agent's encoding is what they check.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/fd.h"
#include "common/result.h"
#include "control/endpoints.h"
#include "kubedp/abi.h"

namespace kubedp::datapath {

// Opens a pinned object (map or program) by path.
Result<UniqueFd> OpenPinned(const std::string& path);
// Opens a loaded program by its kernel id (as `kubedp status` reports it).
Result<UniqueFd> OpenProgramById(uint32_t id);

class EndpointMap {
 public:
  explicit EndpointMap(int fd) : fd_(fd) {}
  Status Upsert(uint32_t ip_network_order, const kdp_endpoint_info& info);
  Status Delete(uint32_t ip_network_order);
  Result<control::EndpointTable> Dump() const;
  // Writes the difference between desired and the map's contents.
  Status Reconcile(const control::EndpointTable& desired);

 private:
  int fd_;
};

struct MetricRow {
  uint32_t reason = 0;
  uint32_t direction = 0;
  uint64_t packets = 0;
  uint64_t bytes = 0;
};

class MetricsMap {
 public:
  explicit MetricsMap(int fd) : fd_(fd) {}
  // Sums the per-CPU slots; rows with no packets are left out.
  Result<std::vector<MetricRow>> Read() const;

 private:
  int fd_;
};

struct MapFill {
  std::string name;
  std::string type;
  uint32_t max_entries = 0;
  uint64_t entries = 0;  // for hash maps: counted; for arrays: max_entries
};

// Name, type, capacity and current fill of a map, for `kubedp status`.
Result<MapFill> DescribeMap(int fd);

}  // namespace kubedp::datapath
