/* SPDX-License-Identifier: Apache-2.0 */
/* Drop and trace records to user space through one ring buffer per node. */
#ifndef KUBEDP_LIB_EVENTS_H
#define KUBEDP_LIB_EVENTS_H

#include "common.h"
#include "metrics.h"
#include "parse.h"

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, KDP_EVENTS_RING_BYTES);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} kdp_events SEC(".maps");

/* Counts the drop and reports it; a full ring only loses the record, not the count. */
KDP_INLINE int kdp_drop(struct __sk_buff* skb, const struct kdp_packet* pkt, __u32 reason,
                        __u32 direction) {
  kdp_count(skb, reason, direction);

  struct kdp_drop_event* event = bpf_ringbuf_reserve(&kdp_events, sizeof(*event), 0);
  if (!event) return TC_ACT_SHOT;
  __builtin_memset(event, 0, sizeof(*event));
  event->header.timestamp_ns = bpf_ktime_get_ns();
  event->header.type = KDP_EVENT_DROP;
  event->header.size = sizeof(*event);
  event->ifindex = skb->ifindex;
  if (pkt && pkt->ip4) {
    event->saddr = pkt->ip4->saddr;
    event->daddr = pkt->ip4->daddr;
    event->protocol = pkt->ip4->protocol;
    event->sport = pkt->sport;
    event->dport = pkt->dport;
  }
  event->reason = reason;
  event->direction = direction;
  event->length = skb->len;
  bpf_ringbuf_submit(event, 0);
  return TC_ACT_SHOT;
}

/* Reports a new flow that policy let through, for verdict logging. */
KDP_INLINE void kdp_report_allow(struct __sk_buff* skb, const struct kdp_packet* pkt,
                                 __u8 isolated) {
  struct kdp_policy_allow_event* event = bpf_ringbuf_reserve(&kdp_events, sizeof(*event), 0);
  if (!event) return;
  __builtin_memset(event, 0, sizeof(*event));
  event->header.timestamp_ns = bpf_ktime_get_ns();
  event->header.type = KDP_EVENT_POLICY_ALLOW;
  event->header.size = sizeof(*event);
  event->saddr = pkt->ip4->saddr;
  event->daddr = pkt->ip4->daddr;
  event->sport = pkt->sport;
  event->dport = pkt->dport;
  event->protocol = pkt->ip4->protocol;
  event->isolated = isolated;
  event->ifindex = skb->ifindex;
  bpf_ringbuf_submit(event, 0);
}

#endif /* KUBEDP_LIB_EVENTS_H */
