// Source NAT as the agent and CLI see it: the conntrack record a NAT pair
// belongs to, the pair's other half, and readable rows. Pure: ABI structs in,
// values out.
#pragma once

#include <cstdint>
#include <string>

#include "kubedp/abi.h"

namespace kubedp::control {

// The canonical conntrack key of a tuple (network byte order), as the
// datapath builds it (bpf/lib/conntrack.h kdp_ct_key_from).
kdp_ct_key CanonicalCtKey(uint32_t saddr, uint32_t daddr, uint16_t sport, uint16_t dport,
                          uint8_t protocol);

// The conntrack record that keeps an egress NAT entry alive: the flow's
// original (untranslated) tuple. ICMP echo uses its identifier as both ports.
kdp_ct_key CtKeyOfNatEgress(const kdp_nat_key& egress);

// The other half of a pair: the ingress key of an egress entry, or the
// egress key of an ingress entry.
kdp_nat_key PartnerOf(const kdp_nat_key& key, const kdp_nat_entry& entry);

// One translated flow, from the egress half.
struct NatRow {
  std::string protocol;
  std::string kind;        // "masquerade" (a pod) or "node" (the node's own flow)
  std::string original;    // address:port the flow started from
  std::string translated;  // address:port it leaves with
  std::string remote;      // address:port (ICMP: the address)
  int64_t age_seconds = 0;
};

NatRow ToNatRow(const kdp_nat_key& egress, const kdp_nat_entry& entry, uint64_t now_ns);

}  // namespace kubedp::control
