#include <arpa/inet.h>
#include <gtest/gtest.h>

#include "control/conntrack.h"

namespace kubedp::control {
namespace {

constexpr uint64_t kSecond = 1000000000;

// 10.0.0.9:40000 -> 10.0.0.2:80, stored with the lower address as side a.
std::pair<kdp_ct_key, kdp_ct_entry> Flow(uint8_t flags) {
  kdp_ct_key key{.addr_a = htonl(0x0a000002),
                 .addr_b = htonl(0x0a000009),
                 .port_a = htons(80),
                 .port_b = htons(40000),
                 .protocol = 6};
  kdp_ct_entry entry{};
  entry.flags = flags;
  entry.state = KDP_CT_ESTABLISHED;
  entry.created_ns = 10 * kSecond;
  entry.expires_ns = 100 * kSecond;
  return {key, entry};
}

TEST(CtRow, IsOrientedFromTheInitiator) {
  auto [key, entry] = Flow(0);  // side b started it
  CtRow row = ToCtRow(key, entry, 40 * kSecond);
  EXPECT_EQ(row.source, "10.0.0.9");
  EXPECT_EQ(row.source_port, 40000);
  EXPECT_EQ(row.destination, "10.0.0.2");
  EXPECT_EQ(row.destination_port, 80);
  EXPECT_EQ(row.protocol, "TCP");
  EXPECT_EQ(row.state, "established");
  EXPECT_EQ(row.age_seconds, 30);
  EXPECT_EQ(row.expires_in_seconds, 60);

  auto [key_a, entry_a] = Flow(KDP_CT_F_INITIATOR_IS_A);
  EXPECT_EQ(ToCtRow(key_a, entry_a, 40 * kSecond).source, "10.0.0.2");
}

TEST(CtFilter, MatchesEitherEnd) {
  auto [key, entry] = Flow(0);
  CtRow row = ToCtRow(key, entry, 0);
  EXPECT_TRUE(CtFilter{.address = "10.0.0.2"}.Matches(row));
  EXPECT_TRUE((CtFilter{.address = "10.0.0.9", .port = 80}.Matches(row)));
  EXPECT_FALSE(CtFilter{.address = "10.0.0.3"}.Matches(row));
  EXPECT_FALSE(CtFilter{.protocol = "UDP"}.Matches(row));
  EXPECT_TRUE(CtFilter{}.Matches(row));
}

TEST(CtTimeouts, DefaultsAreOrdered) {
  kdp_ct_timeouts t = DefaultCtTimeouts();
  EXPECT_LT(t.tcp_close, t.tcp_syn);
  EXPECT_LT(t.tcp_syn, t.tcp_established);
  EXPECT_LT(t.udp_unreplied, t.udp_replied);
}

}  // namespace
}  // namespace kubedp::control
