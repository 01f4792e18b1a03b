/* SPDX-License-Identifier: Apache-2.0 */
/* NetworkPolicy lookup: rule bits of the remote address AND of the port. */
#ifndef KUBEDP_LIB_POLICY_H
#define KUBEDP_LIB_POLICY_H

#include "common.h"
#include "parse.h"

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, KDP_POLICY_MAX);
  __type(key, struct kdp_policy_peer_key);
  __type(value, struct kdp_policy_rules);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} kdp_pol_peers SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, KDP_POLICY_MAX);
  __type(key, struct kdp_policy_port_key);
  __type(value, struct kdp_policy_rules);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} kdp_pol_ports SEC(".maps");

/*
 * Whether the endpoint's policy in one direction lets the connection through:
 * an endpoint no policy selects in that direction is open; a selected one
 * needs a rule that matches both the remote address and the port.
 */
KDP_INLINE bool kdp_policy_allows(const struct kdp_endpoint_info* ep, __u8 direction, __u32 remote,
                                  const struct kdp_packet* pkt) {
  __u32 isolated_flag = direction == KDP_POLICY_INGRESS ? KDP_ENDPOINT_F_INGRESS_ISOLATED
                                                        : KDP_ENDPOINT_F_EGRESS_ISOLATED;
  if (!(ep->flags & isolated_flag)) return true;

  struct kdp_policy_peer_key peer = {
      .prefixlen = KDP_POLICY_PEER_FIXED_BITS + 32,
      .endpoint_id = bpf_htonl(ep->endpoint_id),
      .direction = direction,
      .remote = remote,
  };
  struct kdp_policy_rules* peer_rules = bpf_map_lookup_elem(&kdp_pol_peers, &peer);
  if (!peer_rules) return false;

  struct kdp_policy_port_key port = {
      .prefixlen = KDP_POLICY_PORT_FIXED_BITS + 8 + 16,
      .endpoint_id = bpf_htonl(ep->endpoint_id),
      .direction = direction,
      .protocol = pkt->ip4->protocol,
      /* ICMP echo carries its identifier in the port fields: no port for policy. */
      .port = pkt->ip4->protocol == IPPROTO_ICMP_NUM ? 0 : pkt->dport,
  };
  struct kdp_policy_rules* port_rules = bpf_map_lookup_elem(&kdp_pol_ports, &port);
  if (!port_rules) return false;
  return (peer_rules->bits & port_rules->bits) != 0;
}

#endif /* KUBEDP_LIB_POLICY_H */
