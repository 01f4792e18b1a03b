/* SPDX-License-Identifier: Apache-2.0 */
/* Packet parsing: Ethernet, IPv4 and the ports of TCP/UDP, bounds-checked. */
#ifndef KUBEDP_LIB_PARSE_H
#define KUBEDP_LIB_PARSE_H

#include "common.h"

struct kdp_packet {
  struct ethhdr *eth;
  struct iphdr *ip4;
  __u16 sport; /* network byte order, 0 when not TCP/UDP or a fragment */
  __u16 dport;
};

enum kdp_parse_result {
  KDP_PARSE_IPV4 = 0,
  KDP_PARSE_NOT_IPV4 = 1,
  KDP_PARSE_MALFORMED = 2,
};

/* Ports sit in the first four bytes of both TCP and UDP headers. */
struct kdp_l4_ports {
  __u16 source;
  __u16 dest;
};

KDP_INLINE int kdp_parse_ipv4(struct __sk_buff *skb, struct kdp_packet *pkt) {
  void *data = (void *)(long)skb->data;
  void *data_end = (void *)(long)skb->data_end;

  pkt->eth = data;
  if ((void *)(pkt->eth + 1) > data_end) return KDP_PARSE_MALFORMED;
  if (pkt->eth->h_proto != bpf_htons(ETH_P_IP)) return KDP_PARSE_NOT_IPV4;

  pkt->ip4 = (void *)(pkt->eth + 1);
  if ((void *)(pkt->ip4 + 1) > data_end) return KDP_PARSE_MALFORMED;
  if (pkt->ip4->version != 4 || pkt->ip4->ihl < 5) return KDP_PARSE_MALFORMED;

  pkt->sport = 0;
  pkt->dport = 0;
  /* Only the first fragment carries ports. */
  if (pkt->ip4->frag_off & bpf_htons(0x1fff)) return KDP_PARSE_IPV4;
  if (pkt->ip4->protocol != IPPROTO_TCP_NUM && pkt->ip4->protocol != IPPROTO_UDP_NUM)
    return KDP_PARSE_IPV4;

  struct kdp_l4_ports *ports = (void *)pkt->ip4 + pkt->ip4->ihl * 4;
  if ((void *)(ports + 1) > data_end) return KDP_PARSE_MALFORMED;
  pkt->sport = ports->source;
  pkt->dport = ports->dest;
  return KDP_PARSE_IPV4;
}

/* Decrements the TTL with an incremental checksum update (RFC 1624), as a router does. */
KDP_INLINE void kdp_ipv4_decrease_ttl(struct iphdr *ip4) {
  __u32 check = (__u32)ip4->check;
  check += (__u32)bpf_htons(0x0100);
  ip4->check = (__u16)(check + (check >= 0xFFFF));
  ip4->ttl--;
}

#endif /* KUBEDP_LIB_PARSE_H */
