/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Connection tracking: one record per flow, found from both directions
 * through a canonical key, so no record can miss the close its partner saw.
 */
#ifndef KUBEDP_LIB_CONNTRACK_H
#define KUBEDP_LIB_CONNTRACK_H

#include "common.h"
#include "parse.h"

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, KDP_CT_DEFAULT_MAX);
  __type(key, struct kdp_ct_key);
  __type(value, struct kdp_ct_entry);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} kdp_ct SEC(".maps");

#define KDP_NS_PER_SEC 1000000000ULL

/* Builds the canonical key of a tuple (network byte order); returns true when
 * the source is side a. */
KDP_INLINE bool kdp_ct_key_from(__u32 saddr, __u32 daddr, __u16 sport, __u16 dport, __u8 protocol,
                                struct kdp_ct_key* key) {
  __u32 s = bpf_ntohl(saddr), d = bpf_ntohl(daddr);
  __u16 sp = bpf_ntohs(sport), dp = bpf_ntohs(dport);
  bool source_is_a = s < d || (s == d && sp <= dp);
  key->protocol = protocol;
  key->addr_a = source_is_a ? saddr : daddr;
  key->addr_b = source_is_a ? daddr : saddr;
  key->port_a = source_is_a ? sport : dport;
  key->port_b = source_is_a ? dport : sport;
  return source_is_a;
}

KDP_INLINE bool kdp_ct_key_of(const struct kdp_packet* pkt, struct kdp_ct_key* key) {
  return kdp_ct_key_from(pkt->ip4->saddr, pkt->ip4->daddr, pkt->sport, pkt->dport,
                         pkt->ip4->protocol, key);
}

KDP_INLINE __u64 kdp_ct_lifetime(const volatile struct kdp_ct_timeouts* t, __u8 protocol,
                                 __u8 state) {
  __u32 seconds;
  if (protocol == IPPROTO_TCP_NUM) {
    switch (state) {
      case KDP_CT_SYN_SENT:
        seconds = t->tcp_syn;
        break;
      case KDP_CT_ESTABLISHED:
        seconds = t->tcp_established;
        break;
      case KDP_CT_FIN_WAIT:
        seconds = t->tcp_fin_wait;
        break;
      default: /* closing, closed */
        seconds = t->tcp_close;
    }
  } else if (protocol == IPPROTO_UDP_NUM) {
    seconds = state == KDP_CT_ESTABLISHED ? t->udp_replied : t->udp_unreplied;
  } else {
    seconds = t->icmp;
  }
  return (__u64)seconds * KDP_NS_PER_SEC;
}

KDP_INLINE bool kdp_tcp_opens(const struct kdp_packet* pkt) {
  return (pkt->tcp_flags & (KDP_TCP_SYN | KDP_TCP_ACK | KDP_TCP_RST)) == KDP_TCP_SYN;
}

/* A fresh record for the first packet of a flow (or of a reused tuple). */
KDP_INLINE int kdp_ct_create(const struct kdp_packet* pkt, const struct kdp_ct_key* key,
                             bool source_is_a, __u32 length, __u64 now,
                             const volatile struct kdp_ct_timeouts* timeouts, __u32 rev_nat_addr,
                             __u16 rev_nat_port, __u8 extra_flags) {
  struct kdp_ct_entry entry = {};
  __u8 protocol = key->protocol;
  if (protocol == IPPROTO_TCP_NUM) {
    /* A flow first seen mid-stream (e.g. tracked before a map flush) counts as established. */
    entry.state = kdp_tcp_opens(pkt) ? KDP_CT_SYN_SENT : KDP_CT_ESTABLISHED;
    if (pkt->tcp_flags & KDP_TCP_RST) entry.state = KDP_CT_CLOSED;
  } else {
    entry.state = KDP_CT_UNREPLIED;
  }
  entry.flags = (source_is_a ? KDP_CT_F_INITIATOR_IS_A : 0) | extra_flags;
  entry.created_ns = now;
  entry.last_seen_ns = now;
  entry.expires_ns = now + kdp_ct_lifetime(timeouts, protocol, entry.state);
  entry.packets_original = 1;
  entry.bytes_original = length;
  entry.rev_nat_addr = rev_nat_addr;
  entry.rev_nat_port = rev_nat_port;
  bpf_map_update_elem(&kdp_ct, key, &entry, BPF_ANY);
  return KDP_CT_NEW;
}

KDP_INLINE __u8 kdp_ct_next_state(const struct kdp_packet* pkt, struct kdp_ct_entry* entry,
                                  bool original) {
  __u8 state = entry->state;
  if (!original) entry->flags |= KDP_CT_F_SEEN_REPLY;
  if (pkt->ip4->protocol != IPPROTO_TCP_NUM) {
    return (entry->flags & KDP_CT_F_SEEN_REPLY) ? KDP_CT_ESTABLISHED : state;
  }
  if (pkt->tcp_flags & KDP_TCP_RST) return KDP_CT_CLOSED;
  if (pkt->tcp_flags & KDP_TCP_FIN) {
    entry->flags |= original ? KDP_CT_F_FIN_ORIGINAL : KDP_CT_F_FIN_REPLY;
    __u8 both = KDP_CT_F_FIN_ORIGINAL | KDP_CT_F_FIN_REPLY;
    return (entry->flags & both) == both ? KDP_CT_CLOSING : KDP_CT_FIN_WAIT;
  }
  if (state == KDP_CT_SYN_SENT && (entry->flags & KDP_CT_F_SEEN_REPLY)) return KDP_CT_ESTABLISHED;
  return state;
}

/* What a lookup learnt, kept so a new flow can be recorded once it is allowed. */
struct kdp_ct_lookup {
  struct kdp_ct_key key;
  bool source_is_a;
  __u64 now;
  struct kdp_ct_entry* entry; /* the flow's record, unless new */
};

/* A record that no longer describes a live flow for this packet: expired, or
 * a SYN on a closing or closed connection (the tuple is being reused). */
KDP_INLINE bool kdp_ct_is_over(const struct kdp_ct_entry* entry, const struct kdp_packet* pkt,
                               __u64 now) {
  if (entry->expires_ns < now) return true;
  return pkt->ip4->protocol == IPPROTO_TCP_NUM && kdp_tcp_opens(pkt) &&
         entry->state >= KDP_CT_CLOSING;
}

/*
 * Tracks the packet and says whether it opens, continues or answers a flow
 * (or, for an ICMP error, whether it is about one).
 * An expired record, or a SYN on a closing or closed one, starts afresh: the
 * same tuple can be used again at once after a close. A new flow is not
 * recorded here: the caller records it (kdp_ct_record_new) only once policy
 * let its first packet through, so a denied flow never leaves a record that
 * would let the other side's packets pass as replies.
 */
/* An ICMP error is related when the flow it quotes has a live record. */
KDP_INLINE int kdp_ct_related(const struct kdp_packet* pkt) {
  struct kdp_ct_key key = {};
  kdp_ct_key_from(pkt->inner_saddr, pkt->inner_daddr, pkt->inner_sport, pkt->inner_dport,
                  pkt->inner_protocol, &key);
  struct kdp_ct_entry* entry = bpf_map_lookup_elem(&kdp_ct, &key);
  return entry && entry->expires_ns >= bpf_ktime_get_ns() ? KDP_CT_RELATED : KDP_CT_UNTRACKED;
}

KDP_INLINE int kdp_ct_track(struct __sk_buff* skb, const struct kdp_packet* pkt,
                            const volatile struct kdp_ct_timeouts* timeouts,
                            struct kdp_ct_lookup* lookup) {
  if (pkt->icmp_error) return kdp_ct_related(pkt);
  if (!pkt->trackable) return KDP_CT_UNTRACKED;
  lookup->source_is_a = kdp_ct_key_of(pkt, &lookup->key);
  __u64 now = bpf_ktime_get_ns();
  lookup->now = now;

  struct kdp_ct_entry* entry = bpf_map_lookup_elem(&kdp_ct, &lookup->key);
  if (!entry || kdp_ct_is_over(entry, pkt, now)) return KDP_CT_NEW;
  lookup->entry = entry;
  bool source_is_a = lookup->source_is_a;

  bool original = ((entry->flags & KDP_CT_F_INITIATOR_IS_A) != 0) == source_is_a;
  if (original) {
    __sync_fetch_and_add(&entry->packets_original, 1);
    __sync_fetch_and_add(&entry->bytes_original, skb->len);
  } else {
    __sync_fetch_and_add(&entry->packets_reply, 1);
    __sync_fetch_and_add(&entry->bytes_reply, skb->len);
  }
  __u8 state = kdp_ct_next_state(pkt, entry, original);
  entry->state = state;
  entry->last_seen_ns = now;
  entry->expires_ns = now + kdp_ct_lifetime(timeouts, lookup->key.protocol, state);
  return original ? KDP_CT_ORIGINAL : KDP_CT_REPLY;
}

/* rev_nat_addr/port: the Service address replies must leave with (0: none);
 * extra_flags: KDP_CT_F_HAIRPIN for a pod reaching itself. */
KDP_INLINE void kdp_ct_record_new(struct __sk_buff* skb, const struct kdp_packet* pkt,
                                  const struct kdp_ct_lookup* lookup,
                                  const volatile struct kdp_ct_timeouts* timeouts,
                                  __u32 rev_nat_addr, __u16 rev_nat_port, __u8 extra_flags) {
  kdp_ct_create(pkt, &lookup->key, lookup->source_is_a, skb->len, lookup->now, timeouts,
                rev_nat_addr, rev_nat_port, extra_flags);
}

#endif /* KUBEDP_LIB_CONNTRACK_H */
