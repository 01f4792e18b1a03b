#include "control/endpoints.h"

#include <arpa/inet.h>

#include <cstring>

namespace kubedp::control {

EndpointTable CompileEndpoints(const std::vector<EndpointRecord>& records) {
  EndpointTable table;
  for (const auto& record : records) {
    if (record.ifindex <= 0 || record.ip == 0) continue;
    kdp_endpoint_info info{};
    info.ifindex = static_cast<uint32_t>(record.ifindex);
    info.endpoint_id = record.endpoint_id;
    std::memcpy(info.pod_mac, record.pod_mac.data(), sizeof(info.pod_mac));
    std::memcpy(info.host_mac, record.host_mac.data(), sizeof(info.host_mac));
    table[htonl(record.ip)] = info;
  }
  return table;
}

bool SameEndpointInfo(const kdp_endpoint_info& a, const kdp_endpoint_info& b) {
  return std::memcmp(&a, &b, sizeof(a)) == 0;
}

}  // namespace kubedp::control
