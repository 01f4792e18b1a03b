/* SPDX-License-Identifier: Apache-2.0 */
/* Packet parsing: Ethernet, IPv4 and the ports of TCP, UDP and SCTP, bounds-checked. */
#ifndef KUBEDP_LIB_PARSE_H
#define KUBEDP_LIB_PARSE_H

#include "common.h"

struct kdp_packet {
  struct ethhdr* eth;
  struct iphdr* ip4;
  __u16 sport; /* network byte order; ICMP echo: the identifier; else 0 */
  __u16 dport;
  __u8 tcp_flags; /* KDP_TCP_* of a TCP segment */
  __u8 icmp_type; /* of an ICMP message */
  __u8 trackable; /* TCP, UDP or ICMP echo with its ports/identifier parsed */
  /* An ICMP error (unreachable, time exceeded, parameter problem) quoting a
   * TCP, UDP or ICMP echo packet: the quoted packet's tuple, as it was sent. */
  __u8 icmp_error;
  __u8 inner_protocol;
  __u32 inner_saddr; /* network byte order */
  __u32 inner_daddr;
  __u16 inner_sport; /* network byte order; ICMP echo: the identifier */
  __u16 inner_dport;
};

#define KDP_TCP_FIN 0x01
#define KDP_TCP_SYN 0x02
#define KDP_TCP_RST 0x04
#define KDP_TCP_ACK 0x10
#define KDP_ICMP_ECHO_REPLY 0
#define KDP_ICMP_ECHO_REQUEST 8
#define KDP_ICMP_DEST_UNREACH 3
#define KDP_ICMP_TIME_EXCEEDED 11
#define KDP_ICMP_PARAMETER_PROBLEM 12
/* Where an ICMP error quotes the packet it is about (after its 8-byte header). */
#define KDP_ICMP_ERROR_HLEN 8

enum kdp_parse_result {
  KDP_PARSE_IPV4 = 0,
  KDP_PARSE_NOT_IPV4 = 1,
  KDP_PARSE_MALFORMED = 2,
};

/* Ports sit in the first four bytes of TCP, UDP and SCTP headers. */
struct kdp_l4_ports {
  __u16 source;
  __u16 dest;
};

/* The part of a TCP header up to the flags byte. */
struct kdp_tcp_head {
  __u16 source;
  __u16 dest;
  __u32 seq;
  __u32 ack_seq;
  __u8 offset;
  __u8 flags;
};

struct kdp_icmp_echo {
  __u8 type;
  __u8 code;
  __u16 checksum;
  __u16 id;
  __u16 sequence;
};

/* The quoted packet of an ICMP error: a plain IPv4 header and the first
 * bytes of its TCP/UDP header or ICMP echo. Anything else stays unparsed. */
KDP_INLINE void kdp_parse_icmp_error(struct kdp_packet* pkt, void* quoted, void* data_end) {
  struct iphdr* inner = quoted;
  if ((void*)(inner + 1) > data_end || inner->ihl != 5) return;
  struct kdp_icmp_echo* l4 = (void*)(inner + 1);
  if ((void*)(l4 + 1) > data_end) return;
  __u8 protocol = inner->protocol;
  if (protocol == IPPROTO_TCP_NUM || protocol == IPPROTO_UDP_NUM) {
    struct kdp_l4_ports* ports = (void*)l4;
    pkt->inner_sport = ports->source;
    pkt->inner_dport = ports->dest;
  } else if (protocol == IPPROTO_ICMP_NUM && l4->type == KDP_ICMP_ECHO_REQUEST) {
    pkt->inner_sport = l4->id;
    pkt->inner_dport = l4->id;
  } else {
    return;
  }
  pkt->inner_protocol = protocol;
  pkt->inner_saddr = inner->saddr;
  pkt->inner_daddr = inner->daddr;
  pkt->icmp_error = 1;
}

KDP_INLINE int kdp_parse_l4(struct kdp_packet* pkt, void* l4, void* data_end) {
  __u8 protocol = pkt->ip4->protocol;
  if (protocol == IPPROTO_TCP_NUM) {
    struct kdp_tcp_head* tcp = l4;
    if ((void*)(tcp + 1) > data_end) return KDP_PARSE_MALFORMED;
    pkt->sport = tcp->source;
    pkt->dport = tcp->dest;
    pkt->tcp_flags = tcp->flags;
    pkt->trackable = 1;
  } else if (protocol == IPPROTO_UDP_NUM || protocol == IPPROTO_SCTP_NUM) {
    struct kdp_l4_ports* ports = l4;
    if ((void*)(ports + 1) > data_end) return KDP_PARSE_MALFORMED;
    pkt->sport = ports->source;
    pkt->dport = ports->dest;
    pkt->trackable = 1;
  } else if (protocol == IPPROTO_ICMP_NUM) {
    struct kdp_icmp_echo* icmp = l4;
    if ((void*)(icmp + 1) > data_end) return KDP_PARSE_MALFORMED;
    pkt->icmp_type = icmp->type;
    if (icmp->type == KDP_ICMP_ECHO_REQUEST || icmp->type == KDP_ICMP_ECHO_REPLY) {
      /* Request and reply carry the same identifier: it stands for both ports. */
      pkt->sport = icmp->id;
      pkt->dport = icmp->id;
      pkt->trackable = 1;
    } else if (icmp->type == KDP_ICMP_DEST_UNREACH || icmp->type == KDP_ICMP_TIME_EXCEEDED ||
               icmp->type == KDP_ICMP_PARAMETER_PROBLEM) {
      kdp_parse_icmp_error(pkt, (void*)icmp + KDP_ICMP_ERROR_HLEN, data_end);
    }
  }
  return KDP_PARSE_IPV4;
}

KDP_INLINE int kdp_parse_ipv4(struct __sk_buff* skb, struct kdp_packet* pkt) {
  void* data = (void*)(long)skb->data;
  void* data_end = (void*)(long)skb->data_end;

  pkt->eth = data;
  if ((void*)(pkt->eth + 1) > data_end) return KDP_PARSE_MALFORMED;
  if (pkt->eth->h_proto != bpf_htons(ETH_P_IP)) return KDP_PARSE_NOT_IPV4;

  pkt->ip4 = (void*)(pkt->eth + 1);
  if ((void*)(pkt->ip4 + 1) > data_end) return KDP_PARSE_MALFORMED;
  if (pkt->ip4->version != 4 || pkt->ip4->ihl < 5) return KDP_PARSE_MALFORMED;

  pkt->sport = 0;
  pkt->dport = 0;
  pkt->tcp_flags = 0;
  pkt->icmp_type = 0;
  pkt->trackable = 0;
  pkt->icmp_error = 0;
  /* Only the first fragment carries ports. */
  if (pkt->ip4->frag_off & bpf_htons(0x1fff)) return KDP_PARSE_IPV4;
  return kdp_parse_l4(pkt, (void*)pkt->ip4 + pkt->ip4->ihl * 4, data_end);
}

/* Decrements the TTL with an incremental checksum update (RFC 1624), as a router does. */
KDP_INLINE void kdp_ipv4_decrease_ttl(struct iphdr* ip4) {
  __u32 check = (__u32)ip4->check;
  check += (__u32)bpf_htons(0x0100);
  ip4->check = (__u16)(check + (check >= 0xFFFF));
  ip4->ttl--;
}

#endif /* KUBEDP_LIB_PARSE_H */
