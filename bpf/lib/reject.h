/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Refusing traffic to a Service without backends at once, as its address
 * would: a TCP SYN becomes the RST/ACK, a UDP datagram an ICMP port
 * unreachable; either goes straight back out of the device it came in on.
 */
#ifndef KUBEDP_LIB_REJECT_H
#define KUBEDP_LIB_REJECT_H

#include "common.h"
#include "parse.h"

struct kdp_tcp_full {
  __u16 source;
  __u16 dest;
  __u32 seq;
  __u32 ack_seq;
  __u8 offset;
  __u8 flags;
  __u16 window;
  __u16 check;
  __u16 urg_ptr;
};

struct kdp_pseudo_header {
  __u32 saddr;
  __u32 daddr;
  __u8 zero;
  __u8 protocol;
  __u16 length;
};

KDP_INLINE __u16 kdp_csum_fold(__u64 sum) {
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return (__u16)~sum;
}

#define KDP_RST_FRAME_LEN (14 + 20 + 20)

/*
 * Returns the verdict that sends the RST back into the sender's namespace, or
 * TC_ACT_SHOT when the packet cannot be answered (not a bare SYN, IP options).
 */
KDP_INLINE int kdp_reject_tcp(struct __sk_buff* skb, struct kdp_packet* pkt) {
  if (pkt->ip4->protocol != IPPROTO_TCP_NUM || pkt->ip4->ihl != 5 ||
      (pkt->tcp_flags & (KDP_TCP_SYN | KDP_TCP_ACK | KDP_TCP_RST)) != KDP_TCP_SYN)
    return TC_ACT_SHOT;
  if (bpf_skb_change_tail(skb, KDP_RST_FRAME_LEN, 0)) return TC_ACT_SHOT;

  void* data = (void*)(long)skb->data;
  void* data_end = (void*)(long)skb->data_end;
  struct ethhdr* eth = data;
  struct iphdr* ip = (void*)(eth + 1);
  struct kdp_tcp_full* tcp = (void*)(ip + 1);
  if ((void*)(tcp + 1) > data_end) return TC_ACT_SHOT;

  __u8 mac[ETH_ALEN];
  __builtin_memcpy(mac, eth->h_source, ETH_ALEN);
  __builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
  __builtin_memcpy(eth->h_dest, mac, ETH_ALEN);

  __u32 addr = ip->saddr;
  ip->saddr = ip->daddr;
  ip->daddr = addr;
  ip->tot_len = bpf_htons(40);
  ip->ttl = 64;
  ip->frag_off = 0;
  ip->check = 0;
  ip->check = kdp_csum_fold(bpf_csum_diff(0, 0, (__be32*)ip, sizeof(*ip), 0));

  __u16 port = tcp->source;
  tcp->source = tcp->dest;
  tcp->dest = port;
  /* RFC 793: a RST answering a SYN acknowledges it and carries sequence 0. */
  tcp->ack_seq = bpf_htonl(bpf_ntohl(tcp->seq) + 1);
  tcp->seq = 0;
  tcp->offset = 5 << 4;
  tcp->flags = KDP_TCP_RST | KDP_TCP_ACK;
  tcp->window = 0;
  tcp->urg_ptr = 0;
  tcp->check = 0;
  struct kdp_pseudo_header pseudo = {.saddr = ip->saddr,
                                     .daddr = ip->daddr,
                                     .protocol = IPPROTO_TCP_NUM,
                                     .length = bpf_htons(sizeof(*tcp))};
  __s64 sum = bpf_csum_diff(0, 0, (__be32*)&pseudo, sizeof(pseudo), 0);
  sum = bpf_csum_diff(0, 0, (__be32*)tcp, sizeof(*tcp), sum);
  tcp->check = kdp_csum_fold(sum);
  /* Out of the host side of the sender's own veth: into the sender's namespace. */
  return bpf_redirect(skb->ifindex, 0);
}

struct kdp_icmp_header {
  __u8 type;
  __u8 code;
  __u16 checksum;
  __u32 unused;
};

/* New IPv4 + ICMP headers in front of the quoted IPv4 header and 8 bytes. */
#define KDP_UNREACH_ROOM (20 + 8)
#define KDP_UNREACH_FRAME_LEN (14 + KDP_UNREACH_ROOM + 20 + 8)
#define KDP_ICMP_PORT_UNREACH 3

/*
 * Turns a UDP datagram into the ICMP port unreachable its destination would
 * have sent (RFC 792/1122: the offending IPv4 header and its first 8 bytes
 * quoted). Returns the verdict that sends it back, or TC_ACT_SHOT when the
 * packet cannot be answered (IP options, a fragment).
 */
KDP_INLINE int kdp_reject_udp(struct __sk_buff* skb, struct kdp_packet* pkt) {
  if (pkt->ip4->protocol != IPPROTO_UDP_NUM || pkt->ip4->ihl != 5 || !pkt->trackable)
    return TC_ACT_SHOT;
  if (bpf_skb_adjust_room(skb, KDP_UNREACH_ROOM, BPF_ADJ_ROOM_MAC, 0)) return TC_ACT_SHOT;
  if (bpf_skb_change_tail(skb, KDP_UNREACH_FRAME_LEN, 0)) return TC_ACT_SHOT;

  void* data = (void*)(long)skb->data;
  void* data_end = (void*)(long)skb->data_end;
  struct ethhdr* eth = data;
  struct iphdr* ip = (void*)(eth + 1);
  struct kdp_icmp_header* icmp = (void*)(ip + 1);
  struct iphdr* quoted = (void*)(icmp + 1);
  if ((void*)quoted + 28 > data_end) return TC_ACT_SHOT;

  __u8 mac[ETH_ALEN];
  __builtin_memcpy(mac, eth->h_source, ETH_ALEN);
  __builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
  __builtin_memcpy(eth->h_dest, mac, ETH_ALEN);

  /* From the address the datagram was sent to, back to its sender. */
  __builtin_memset(ip, 0, sizeof(*ip));
  ip->version = 4;
  ip->ihl = 5;
  ip->tot_len = bpf_htons(KDP_UNREACH_FRAME_LEN - 14);
  ip->ttl = 64;
  ip->protocol = IPPROTO_ICMP_NUM;
  ip->saddr = quoted->daddr;
  ip->daddr = quoted->saddr;
  ip->check = kdp_csum_fold(bpf_csum_diff(0, 0, (__be32*)ip, sizeof(*ip), 0));

  icmp->type = KDP_ICMP_DEST_UNREACH;
  icmp->code = KDP_ICMP_PORT_UNREACH;
  icmp->checksum = 0;
  icmp->unused = 0;
  icmp->checksum = kdp_csum_fold(bpf_csum_diff(0, 0, (__be32*)icmp, 8 + 28, 0));
  return bpf_redirect(skb->ifindex, 0);
}

/* The refusal for a Service without backends, by protocol. */
KDP_INLINE int kdp_reject(struct __sk_buff* skb, struct kdp_packet* pkt) {
  return pkt->ip4->protocol == IPPROTO_UDP_NUM ? kdp_reject_udp(skb, pkt)
                                               : kdp_reject_tcp(skb, pkt);
}

#endif /* KUBEDP_LIB_REJECT_H */
