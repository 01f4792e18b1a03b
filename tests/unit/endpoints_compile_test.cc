#include <arpa/inet.h>
#include <gtest/gtest.h>

#include "control/endpoints.h"

namespace kubedp::control {
namespace {

EndpointRecord Record(uint32_t ip, uint32_t id, int32_t ifindex) {
  EndpointRecord record;
  record.ip = ip;
  record.endpoint_id = id;
  record.ifindex = ifindex;
  record.pod_mac = {0x02, 0, 0, 0, 0, static_cast<uint8_t>(id)};
  record.host_mac = {0x02, 0xff, 0, 0, 0, static_cast<uint8_t>(id)};
  return record;
}

TEST(CompileEndpoints, KeysAreNetworkOrderAndValuesCarryDelivery) {
  auto table = CompileEndpoints({Record(0x0af40105, 7, 42)});
  ASSERT_EQ(table.size(), 1u);
  const auto& [key, info] = *table.begin();
  EXPECT_EQ(key, htonl(0x0af40105));
  EXPECT_EQ(info.ifindex, 42u);
  EXPECT_EQ(info.endpoint_id, 7u);
  EXPECT_EQ(info.pod_mac[5], 7);
  EXPECT_EQ(info.host_mac[1], 0xff);
}

TEST(CompileEndpoints, UnattachedEndpointsAreLeftOut) {
  auto table = CompileEndpoints({Record(0x0af40105, 7, 0), Record(0x0af40106, 8, 3)});
  EXPECT_EQ(table.size(), 1u);
  EXPECT_TRUE(table.contains(htonl(0x0af40106)));
}

}  // namespace
}  // namespace kubedp::control
