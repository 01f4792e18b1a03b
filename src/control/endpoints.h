// Compiles the node's endpoints into the datapath's endpoint table. Pure: plain
// values in, the exact map contents out.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <vector>

#include "kubedp/abi.h"

namespace kubedp::control {

struct EndpointRecord {
  uint32_t ip = 0;  // host byte order
  uint32_t endpoint_id = 0;
  int32_t ifindex = 0;
  std::array<uint8_t, 6> pod_mac{};
  std::array<uint8_t, 6> host_mac{};
};

// Keyed by the endpoint map's key (IPv4 in network byte order). Records that
// are not attached yet (ifindex 0) are left out: the datapath can't deliver to them.
using EndpointTable = std::map<uint32_t, kdp_endpoint_info>;

EndpointTable CompileEndpoints(const std::vector<EndpointRecord>& records);

bool SameEndpointInfo(const kdp_endpoint_info& a, const kdp_endpoint_info& b);

}  // namespace kubedp::control
