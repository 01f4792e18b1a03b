/* SPDX-License-Identifier: Apache-2.0 */
/* Local endpoints (pods on this node) and delivery to them. */
#ifndef KUBEDP_LIB_ENDPOINT_H
#define KUBEDP_LIB_ENDPOINT_H

#include "common.h"
#include "parse.h"

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, KDP_ENDPOINTS_MAX);
  __type(key, struct kdp_endpoint_key);
  __type(value, struct kdp_endpoint_info);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} kdp_endpoints SEC(".maps");

KDP_INLINE struct kdp_endpoint_info* kdp_lookup_endpoint(__u32 ip) {
  struct kdp_endpoint_key key = {.ip = ip};
  return bpf_map_lookup_elem(&kdp_endpoints, &key);
}

/*
 * Rewrites the frame as the node's router would (source MAC of the
 * destination's host-side veth, the pod's MAC as destination, TTL - 1) and
 * sends it straight into the destination pod's namespace, skipping the
 * node's IP stack.
 */
KDP_INLINE int kdp_deliver_local(struct kdp_packet* pkt, const struct kdp_endpoint_info* ep) {
  __builtin_memcpy(pkt->eth->h_source, ep->host_mac, ETH_ALEN);
  __builtin_memcpy(pkt->eth->h_dest, ep->pod_mac, ETH_ALEN);
  kdp_ipv4_decrease_ttl(pkt->ip4);
  return bpf_redirect_peer(ep->ifindex, 0);
}

#endif /* KUBEDP_LIB_ENDPOINT_H */
