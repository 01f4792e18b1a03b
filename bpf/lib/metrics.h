/* SPDX-License-Identifier: Apache-2.0 */
/* Per-reason, per-direction packet and byte counters (per CPU, no locks). */
#ifndef KUBEDP_LIB_METRICS_H
#define KUBEDP_LIB_METRICS_H

#include "common.h"

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, KDP_METRICS_MAX);
  __type(key, __u32);
  __type(value, struct kdp_metric);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} kdp_metrics SEC(".maps");

KDP_INLINE void kdp_count(struct __sk_buff* skb, __u32 reason, __u32 direction) {
  __u32 index = kdp_metric_index(reason, direction);
  struct kdp_metric* metric = bpf_map_lookup_elem(&kdp_metrics, &index);
  if (!metric) return;
  metric->packets += 1;
  metric->bytes += skb->len;
}

#endif /* KUBEDP_LIB_METRICS_H */
