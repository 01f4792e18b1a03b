#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <cstring>

#include "control/nat.h"

namespace kubedp::control {
namespace {

constexpr uint32_t kPod = 0x0af40102;   // 10.244.1.2
constexpr uint32_t kNode = 0xc000020b;  // 192.0.2.11
constexpr uint32_t kWeb = 0xc0000264;   // 192.0.2.100

kdp_nat_key Egress(uint8_t protocol, uint16_t local_port, uint16_t remote_port) {
  kdp_nat_key key{};
  key.local_addr = htonl(kPod);
  key.remote_addr = htonl(kWeb);
  key.local_port = htons(local_port);
  key.remote_port = htons(remote_port);
  key.protocol = protocol;
  key.direction = KDP_NAT_EGRESS;
  return key;
}

TEST(Nat, CanonicalKeyMatchesTheDatapathOrder) {
  kdp_ct_key forward = CanonicalCtKey(htonl(kWeb), htonl(kPod), htons(80), htons(40000), 6);
  kdp_ct_key backward = CanonicalCtKey(htonl(kPod), htonl(kWeb), htons(40000), htons(80), 6);
  EXPECT_EQ(std::memcmp(&forward, &backward, sizeof(forward)), 0);
  EXPECT_EQ(ntohl(forward.addr_a), kPod) << "lower address first";
  EXPECT_EQ(ntohs(forward.port_a), 40000);
}

TEST(Nat, EgressEntryLivesOnItsOriginalFlow) {
  kdp_ct_key tcp = CtKeyOfNatEgress(Egress(6, 40000, 80));
  kdp_ct_key expected = CanonicalCtKey(htonl(kPod), htonl(kWeb), htons(40000), htons(80), 6);
  EXPECT_EQ(std::memcmp(&tcp, &expected, sizeof(tcp)), 0);
  // ICMP echo: the identifier stands for both ports, the NAT key has no remote port.
  kdp_ct_key icmp = CtKeyOfNatEgress(Egress(1, 7, 0));
  EXPECT_EQ(ntohs(icmp.port_a), 7);
  EXPECT_EQ(ntohs(icmp.port_b), 7);
}

TEST(Nat, PartnersPointAtEachOther) {
  kdp_nat_key egress = Egress(6, 40000, 80);
  kdp_nat_entry translated{.addr = htonl(kNode), .port = htons(61000)};
  kdp_nat_key ingress = PartnerOf(egress, translated);
  EXPECT_EQ(ingress.direction, KDP_NAT_INGRESS);
  EXPECT_EQ(ntohl(ingress.local_addr), kNode);
  EXPECT_EQ(ntohs(ingress.local_port), 61000);
  EXPECT_EQ(ingress.remote_addr, egress.remote_addr);
  kdp_nat_entry original{.addr = htonl(kPod), .port = htons(40000)};
  kdp_nat_key back = PartnerOf(ingress, original);
  EXPECT_EQ(std::memcmp(&back, &egress, sizeof(back)), 0);
}

TEST(Nat, RowsSayWhoAndWhere) {
  kdp_nat_entry translated{
      .addr = htonl(kNode), .port = htons(61000), .flags = 0, .created_ns = 1'000'000'000};
  NatRow row = ToNatRow(Egress(6, 40000, 80), translated, 4'500'000'000);
  EXPECT_EQ(row.protocol, "TCP");
  EXPECT_EQ(row.kind, "masquerade");
  EXPECT_EQ(row.original, "10.244.1.2:40000");
  EXPECT_EQ(row.translated, "192.0.2.11:61000");
  EXPECT_EQ(row.remote, "192.0.2.100:80");
  EXPECT_EQ(row.age_seconds, 3);
  translated.flags = KDP_NAT_F_HOST;
  EXPECT_EQ(ToNatRow(Egress(1, 7, 0), translated, 1'000'000'000).kind, "node");
  EXPECT_EQ(ToNatRow(Egress(1, 7, 0), translated, 1'000'000'000).remote, "192.0.2.100");
}

}  // namespace
}  // namespace kubedp::control
