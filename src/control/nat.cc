#include "control/nat.h"

#include <arpa/inet.h>

#include "common/ip.h"
#include "control/conntrack.h"

namespace kubedp::control {
namespace {

constexpr uint8_t kIcmp = 1;

std::string Endpoint(uint32_t addr, uint16_t port, uint8_t protocol) {
  std::string text = FormatIpv4(ntohl(addr));
  return protocol == kIcmp ? text + " id " + std::to_string(ntohs(port))
                           : text + ":" + std::to_string(ntohs(port));
}

}  // namespace

kdp_ct_key CanonicalCtKey(uint32_t saddr, uint32_t daddr, uint16_t sport, uint16_t dport,
                          uint8_t protocol) {
  uint32_t s = ntohl(saddr), d = ntohl(daddr);
  uint16_t sp = ntohs(sport), dp = ntohs(dport);
  bool source_is_a = s < d || (s == d && sp <= dp);
  kdp_ct_key key{};
  key.protocol = protocol;
  key.addr_a = source_is_a ? saddr : daddr;
  key.addr_b = source_is_a ? daddr : saddr;
  key.port_a = source_is_a ? sport : dport;
  key.port_b = source_is_a ? dport : sport;
  return key;
}

kdp_ct_key CtKeyOfNatEgress(const kdp_nat_key& egress) {
  uint16_t remote_port = egress.protocol == kIcmp ? egress.local_port : egress.remote_port;
  return CanonicalCtKey(egress.local_addr, egress.remote_addr, egress.local_port, remote_port,
                        egress.protocol);
}

kdp_nat_key PartnerOf(const kdp_nat_key& key, const kdp_nat_entry& entry) {
  kdp_nat_key partner{};
  partner.local_addr = entry.addr;
  partner.local_port = entry.port;
  partner.remote_addr = key.remote_addr;
  partner.remote_port = key.remote_port;
  partner.protocol = key.protocol;
  partner.direction = key.direction == KDP_NAT_EGRESS ? KDP_NAT_INGRESS : KDP_NAT_EGRESS;
  return partner;
}

NatRow ToNatRow(const kdp_nat_key& egress, const kdp_nat_entry& entry, uint64_t now_ns) {
  uint8_t protocol = egress.protocol;
  return NatRow{
      .protocol = ProtocolName(protocol),
      .kind = (entry.flags & KDP_NAT_F_HOST) ? "node" : "masquerade",
      .original = Endpoint(egress.local_addr, egress.local_port, protocol),
      .translated = Endpoint(entry.addr, entry.port, protocol),
      .remote = protocol == kIcmp ? FormatIpv4(ntohl(egress.remote_addr))
                                  : Endpoint(egress.remote_addr, egress.remote_port, protocol),
      .age_seconds = static_cast<int64_t>(now_ns - entry.created_ns) / 1000000000,
  };
}

}  // namespace kubedp::control
