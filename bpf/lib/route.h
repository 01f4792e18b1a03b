/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Off-node delivery: the packet is handed straight to the node device's
 * egress, where the kernel resolves the next hop from its routing table and
 * neighbours (bpf_redirect_neigh). The node needs no IP forwarding for it,
 * and the node device's egress program sees the packet (masquerade).
 *
 * bpf_fib_lookup would say in advance whether the route leaves through the
 * node device, but it answers -EAFNOSUPPORT for IPv4 on some kernels built
 * for micro-VMs; the node device is the way off the node here by definition.
 */
#ifndef KUBEDP_LIB_ROUTE_H
#define KUBEDP_LIB_ROUTE_H

#include "common.h"
#include "parse.h"

enum kdp_route_result {
  KDP_ROUTE_REDIRECTED = 0, /* on its way out of the node device */
  KDP_ROUTE_TTL = 1,        /* TTL would reach 0 */
};

KDP_INLINE int kdp_route_out(struct kdp_packet* pkt, __u32 ifindex, int* verdict) {
  if (pkt->ip4->ttl <= 1) return KDP_ROUTE_TTL;
  kdp_ipv4_decrease_ttl(pkt->ip4);
  *verdict = bpf_redirect_neigh(ifindex, NULL, 0, 0);
  return KDP_ROUTE_REDIRECTED;
}

#endif /* KUBEDP_LIB_ROUTE_H */
