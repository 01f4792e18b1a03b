/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Address and port rewriting, and source NAT of flows that leave through the
 * node device: masqueraded pod flows and the node's own flows share one port
 * table, so a port is never handed out twice for the same remote endpoint.
 */
#ifndef KUBEDP_LIB_NAT_H
#define KUBEDP_LIB_NAT_H

#include "common.h"
#include "parse.h"

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, KDP_NAT_DEFAULT_MAX);
  __type(key, struct kdp_nat_key);
  __type(value, struct kdp_nat_entry);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} kdp_nat SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, KDP_NO_MASQ_MAX);
  __type(key, struct kdp_no_masq_key);
  __type(value, __u8);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} kdp_no_masq SEC(".maps");

#define KDP_ETH_HLEN 14
#define KDP_IP_CHECK_OFF (KDP_ETH_HLEN + __builtin_offsetof(struct iphdr, check))
#define KDP_IP_SADDR_OFF (KDP_ETH_HLEN + __builtin_offsetof(struct iphdr, saddr))
#define KDP_IP_DADDR_OFF (KDP_ETH_HLEN + __builtin_offsetof(struct iphdr, daddr))

/* How many ports the allocator tries for one new flow before it gives up. */
#define KDP_SNAT_TRIES 32

/*
 * Rewrites the source or destination address and port (ICMP echo: the
 * identifier) with incremental IPv4 and L4 checksum updates. Packet pointers
 * are invalid afterwards: the packet is parsed again.
 */
KDP_INLINE int kdp_nat_rewrite(struct __sk_buff* skb, struct kdp_packet* pkt, bool source,
                               __u32 new_addr, __u16 new_port) {
  __u8 protocol = pkt->ip4->protocol;
  bool icmp = protocol == IPPROTO_ICMP_NUM;
  __u32 l4_off = KDP_ETH_HLEN + pkt->ip4->ihl * 4;
  __u32 old_addr = source ? pkt->ip4->saddr : pkt->ip4->daddr;
  __u16 old_port = source ? pkt->sport : pkt->dport;
  __u32 addr_off = source ? KDP_IP_SADDR_OFF : KDP_IP_DADDR_OFF;
  /* ICMP echo keeps its identifier at offset 4 for request and reply alike. */
  __u32 port_off = l4_off + (icmp ? 4 : source ? 0 : 2);
  __u32 csum_off = l4_off + (protocol == IPPROTO_TCP_NUM ? 16 : icmp ? 2 : 6);
  __u64 mangled = protocol == IPPROTO_UDP_NUM ? BPF_F_MARK_MANGLED_0 : 0;

  /* The ICMP checksum covers no pseudo header: the address does not enter it. */
  if (!icmp && bpf_l4_csum_replace(skb, csum_off, old_addr, new_addr,
                                   BPF_F_PSEUDO_HDR | mangled | sizeof(new_addr)))
    return -1;
  if (old_port != new_port &&
      (bpf_l4_csum_replace(skb, csum_off, old_port, new_port, mangled | sizeof(new_port)) ||
       bpf_skb_store_bytes(skb, port_off, &new_port, sizeof(new_port), 0)))
    return -1;
  if (bpf_l3_csum_replace(skb, KDP_IP_CHECK_OFF, old_addr, new_addr, sizeof(new_addr)) ||
      bpf_skb_store_bytes(skb, addr_off, &new_addr, sizeof(new_addr), 0))
    return -1;
  return kdp_parse_ipv4(skb, pkt) == KDP_PARSE_IPV4 ? 0 : -1;
}

/* Whether a pod's packet to daddr leaves with the node's address. */
KDP_INLINE bool kdp_masquerade_wanted(__u32 daddr) {
  struct kdp_no_masq_key key = {.prefixlen = 32, .addr = daddr};
  return bpf_map_lookup_elem(&kdp_no_masq, &key) == NULL;
}

struct kdp_snat_range {
  __u16 min; /* host byte order, inclusive */
  __u16 max;
};

enum kdp_snat_result {
  KDP_SNAT_OK = 0,
  KDP_SNAT_EXHAUSTED = 1, /* every port tried is taken for this remote endpoint */
  KDP_SNAT_FAILED = 2,    /* the map refused the entry */
};

/* A NAT key for the packet's remote end: its destination when the packet
 * leaves the node (outbound), its source when it arrives. */
KDP_INLINE void kdp_nat_key_of(const struct kdp_packet* pkt, bool outbound, __u8 direction,
                               __u32 local_addr, __u16 local_port, struct kdp_nat_key* key) {
  key->local_addr = local_addr;
  key->local_port = local_port;
  key->remote_addr = outbound ? pkt->ip4->daddr : pkt->ip4->saddr;
  /* ICMP echo: the identifier is the local "port"; the remote has none. */
  key->remote_port = pkt->ip4->protocol == IPPROTO_ICMP_NUM ? 0
                     : outbound                             ? pkt->dport
                                                            : pkt->sport;
  key->protocol = pkt->ip4->protocol;
  key->direction = direction;
}

/*
 * The translated source of an outgoing flow: its mapping if it has one, else
 * a new one. The first port tried is the flow's own when keep_port (the
 * node's flows) or when it lies in the range; then ports from a random start
 * in order, at most KDP_SNAT_TRIES. The ingress entry is reserved first with
 * BPF_NOEXIST, so two CPUs can never take the same port for one remote.
 */
KDP_INLINE int kdp_snat_mapping(const struct kdp_packet* pkt, __u32 nat_addr,
                                struct kdp_snat_range range, bool keep_port, __u16 flags,
                                struct kdp_nat_entry* mapping) {
  struct kdp_nat_key egress = {};
  kdp_nat_key_of(pkt, true, KDP_NAT_EGRESS, pkt->ip4->saddr, pkt->sport, &egress);
  struct kdp_nat_entry* known = bpf_map_lookup_elem(&kdp_nat, &egress);
  if (known) {
    *mapping = *known;
    return KDP_SNAT_OK;
  }
  __u64 now = bpf_ktime_get_ns();
  struct kdp_nat_entry original = {
      .addr = pkt->ip4->saddr, .port = pkt->sport, .flags = flags, .created_ns = now};
  struct kdp_nat_key ingress = {};
  kdp_nat_key_of(pkt, true, KDP_NAT_INGRESS, nat_addr, 0, &ingress);
  __u16 own = bpf_ntohs(pkt->sport);
  __u32 size = (__u32)range.max - range.min + 1;
  __u32 start = bpf_get_prandom_u32();
  keep_port = keep_port || (own >= range.min && own <= range.max);
  for (__u32 i = 0; i < KDP_SNAT_TRIES; i++) {
    __u16 port = (i == 0 && keep_port) ? own : range.min + (start + i) % size;
    ingress.local_port = bpf_htons(port);
    if (bpf_map_update_elem(&kdp_nat, &ingress, &original, BPF_NOEXIST) != 0) {
      /* Taken, unless by this very flow (its egress entry was evicted). */
      struct kdp_nat_entry* holder = bpf_map_lookup_elem(&kdp_nat, &ingress);
      if (!holder || holder->addr != original.addr || holder->port != original.port) continue;
    }
    struct kdp_nat_entry translated = {
        .addr = nat_addr, .port = bpf_htons(port), .flags = flags, .created_ns = now};
    if (bpf_map_update_elem(&kdp_nat, &egress, &translated, BPF_ANY) != 0) {
      bpf_map_delete_elem(&kdp_nat, &ingress);
      return KDP_SNAT_FAILED;
    }
    *mapping = translated;
    return KDP_SNAT_OK;
  }
  return KDP_SNAT_EXHAUSTED;
}

/* Source-translates an outgoing packet; see kdp_snat_mapping. */
KDP_INLINE int kdp_snat(struct __sk_buff* skb, struct kdp_packet* pkt, __u32 nat_addr,
                        struct kdp_snat_range range, bool keep_port, __u16 flags) {
  struct kdp_nat_entry mapping = {};
  int result = kdp_snat_mapping(pkt, nat_addr, range, keep_port, flags, &mapping);
  if (result != KDP_SNAT_OK) return result;
  if (mapping.addr == pkt->ip4->saddr && mapping.port == pkt->sport) return KDP_SNAT_OK;
  return kdp_nat_rewrite(skb, pkt, true, mapping.addr, mapping.port) ? KDP_SNAT_FAILED
                                                                     : KDP_SNAT_OK;
}

/*
 * A packet arriving for a translated source: its destination goes back to the
 * original one. Returns 1 when the packet belongs to a NAT flow (rewritten if
 * needed), 0 when not, -1 when the rewrite failed.
 */
KDP_INLINE int kdp_snat_reverse(struct __sk_buff* skb, struct kdp_packet* pkt) {
  if (!pkt->trackable) return 0;
  struct kdp_nat_key ingress = {};
  kdp_nat_key_of(pkt, false, KDP_NAT_INGRESS, pkt->ip4->daddr, pkt->dport, &ingress);
  struct kdp_nat_entry* entry = bpf_map_lookup_elem(&kdp_nat, &ingress);
  if (!entry) return 0;
  if (entry->addr == pkt->ip4->daddr && entry->port == pkt->dport) return 1;
  __u32 addr = entry->addr;
  __u16 port = entry->port;
  return kdp_nat_rewrite(skb, pkt, false, addr, port) ? -1 : 1;
}

/* Offsets in an ICMP error about a translated flow (plain IPv4 headers). */
#define KDP_ICMP_OFF (KDP_ETH_HLEN + 20)
#define KDP_ICMP_CSUM_OFF (KDP_ICMP_OFF + 2)
#define KDP_INNER_IP_OFF (KDP_ICMP_OFF + KDP_ICMP_ERROR_HLEN)
#define KDP_INNER_CSUM_OFF (KDP_INNER_IP_OFF + __builtin_offsetof(struct iphdr, check))
#define KDP_INNER_SADDR_OFF (KDP_INNER_IP_OFF + __builtin_offsetof(struct iphdr, saddr))
#define KDP_INNER_L4_OFF (KDP_INNER_IP_OFF + 20)

/*
 * An ICMP error about a translated flow (a router's "fragmentation needed",
 * a remote "port unreachable") goes to the flow's original source: the outer
 * destination and the quoted packet's source are translated back, with the
 * outer IPv4, quoted IPv4 and ICMP checksums kept valid. Returns 1 when the
 * error belongs to a NAT flow, 0 when not, -1 when a rewrite failed.
 */
KDP_INLINE int kdp_snat_reverse_icmp_error(struct __sk_buff* skb, struct kdp_packet* pkt) {
  if (!pkt->icmp_error || pkt->ip4->ihl != 5) return 0;
  /* The quoted packet left the node: its source is the translated one. */
  struct kdp_nat_key ingress = {
      .local_addr = pkt->inner_saddr,
      .remote_addr = pkt->inner_daddr,
      .local_port = pkt->inner_sport,
      .remote_port = pkt->inner_protocol == IPPROTO_ICMP_NUM ? 0 : pkt->inner_dport,
      .protocol = pkt->inner_protocol,
      .direction = KDP_NAT_INGRESS};
  struct kdp_nat_entry* entry = bpf_map_lookup_elem(&kdp_nat, &ingress);
  if (!entry) return 0;
  __u32 old_addr = pkt->inner_saddr, new_addr = entry->addr;
  __u16 old_port = pkt->inner_sport, new_port = entry->port;
  if (old_addr == new_addr && old_port == new_port) return 1;
  __u32 port_off = KDP_INNER_L4_OFF + (pkt->inner_protocol == IPPROTO_ICMP_NUM ? 4 : 0);
  __u16 old_inner_csum = 0, new_inner_csum = 0;
  if (bpf_skb_load_bytes(skb, KDP_INNER_CSUM_OFF, &old_inner_csum, 2)) return -1;
  /* Outer destination. */
  if (bpf_l3_csum_replace(skb, KDP_IP_CHECK_OFF, pkt->ip4->daddr, new_addr, 4) ||
      bpf_skb_store_bytes(skb, KDP_IP_DADDR_OFF, &new_addr, 4, 0))
    return -1;
  /* Quoted source address and its header checksum. */
  if (bpf_l3_csum_replace(skb, KDP_INNER_CSUM_OFF, old_addr, new_addr, 4) ||
      bpf_skb_store_bytes(skb, KDP_INNER_SADDR_OFF, &new_addr, 4, 0) ||
      bpf_skb_load_bytes(skb, KDP_INNER_CSUM_OFF, &new_inner_csum, 2))
    return -1;
  /* Quoted source port. The quoted L4 checksum is left as it is: the quote
   * may be cut short, and no receiver checks it. */
  if (bpf_skb_store_bytes(skb, port_off, &new_port, 2, 0)) return -1;
  /* The ICMP checksum covers every byte changed inside the quote. */
  if (bpf_l4_csum_replace(skb, KDP_ICMP_CSUM_OFF, old_addr, new_addr, 4) ||
      bpf_l4_csum_replace(skb, KDP_ICMP_CSUM_OFF, old_inner_csum, new_inner_csum, 2) ||
      bpf_l4_csum_replace(skb, KDP_ICMP_CSUM_OFF, old_port, new_port, 2))
    return -1;
  return kdp_parse_ipv4(skb, pkt) == KDP_PARSE_IPV4 ? 1 : -1;
}

#endif /* KUBEDP_LIB_NAT_H */
