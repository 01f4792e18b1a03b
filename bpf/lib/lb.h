/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Service translation for pod traffic: a packet to a ClusterIP goes to one
 * backend (random choice for a new connection, the same backend for the rest
 * of it) and its replies come back from the ClusterIP.
 */
#ifndef KUBEDP_LIB_LB_H
#define KUBEDP_LIB_LB_H

#include "common.h"
#include "conntrack.h"
#include "nat.h"
#include "parse.h"

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, KDP_SERVICES_MAX);
  __type(key, struct kdp_service_key);
  __type(value, struct kdp_service_info);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} kdp_services SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, KDP_BACKENDS_MAX);
  __type(key, struct kdp_backend_key);
  __type(value, struct kdp_backend);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} kdp_backends SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, KDP_SVC_FLOWS_MAX);
  __type(key, struct kdp_svc_flow_key);
  __type(value, struct kdp_backend);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} kdp_svc_flows SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, KDP_AFFINITY_MAX);
  __type(key, struct kdp_affinity_key);
  __type(value, struct kdp_affinity);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} kdp_affinity SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, KDP_MAGLEV_MAX);
  __type(key, __u32);
  __type(value, struct kdp_maglev_table);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} kdp_maglev SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, KDP_SERVICES_MAX + 1);
  __type(key, __u32);
  __type(value, struct kdp_service_metric);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} kdp_svc_metrics SEC(".maps");

enum kdp_service_event { KDP_SVC_PACKET, KDP_SVC_CONNECTION, KDP_SVC_REFUSED };

KDP_INLINE void kdp_count_service(const struct kdp_service_info* service, __u32 bytes,
                                  enum kdp_service_event event) {
  __u32 id = service->service_id;
  struct kdp_service_metric* metric = bpf_map_lookup_elem(&kdp_svc_metrics, &id);
  if (!metric) return;
  if (event == KDP_SVC_REFUSED) {
    metric->refused += 1;
    return;
  }
  if (event == KDP_SVC_CONNECTION) metric->connections += 1;
  metric->packets += 1;
  metric->bytes += bytes;
}

/* A hash of the flow's tuple, the same on every node (Maglev's input). */
KDP_INLINE __u32 kdp_flow_hash(__u32 saddr, __u32 daddr, __u16 sport, __u16 dport, __u8 protocol) {
  __u32 h = saddr * 0x9e3779b1u;
  h ^= daddr + 0x7f4a7c15u + (h << 6) + (h >> 2);
  h ^= ((__u32)sport << 16 | dport) * 0x85ebca6bu;
  h ^= protocol;
  h ^= h >> 16;
  h *= 0x7feb352du;
  h ^= h >> 15;
  h *= 0x846ca68bu;
  h ^= h >> 16;
  return h;
}

/* The backend slot of a new connection: the Maglev table's entry for the
 * flow's hash, or a random slot. */
KDP_INLINE int kdp_lb_slot(const struct kdp_service_info* service, __u32 flow_hash, __u32* slot) {
  if (!(service->flags & KDP_SERVICE_F_MAGLEV)) {
    *slot = bpf_get_prandom_u32() % service->backend_count;
    return 0;
  }
  __u32 id = service->service_id;
  struct kdp_maglev_table* table = bpf_map_lookup_elem(&kdp_maglev, &id);
  if (!table) return -1;
  __u32 index = flow_hash % KDP_MAGLEV_SIZE;
  /* The compiler knows the bound; the verifier must see it checked. */
  asm volatile("" : "+r"(index));
  if (index >= KDP_MAGLEV_SIZE) return -1;
  *slot = table->slots[index];
  return 0;
}

enum kdp_lb_result {
  KDP_LB_NONE = 0,       /* not a Service address */
  KDP_LB_TRANSLATED = 1, /* destination rewritten to a backend */
  KDP_LB_NO_BACKEND = 2, /* a Service with no usable backend */
  KDP_LB_ERROR = 3,      /* a rewrite failed */
  KDP_LB_HAIRPIN = 4,    /* translated to the client itself, from the hairpin source */
};

/* The source a translated packet leaves with: the hairpin address when the
 * backend is the client itself. */
KDP_INLINE __u32 kdp_lb_source(__u32 client, __u32 backend) {
  return client == backend ? bpf_htonl(KDP_HAIRPIN_SOURCE) : client;
}

/* Whether the flow client -> backend is still live in conntrack. */
KDP_INLINE bool kdp_lb_flow_live(const struct kdp_packet* pkt, const struct kdp_backend* backend) {
  struct kdp_ct_key key = {};
  kdp_ct_key_from(kdp_lb_source(pkt->ip4->saddr, backend->addr), backend->addr, pkt->sport,
                  backend->port, pkt->ip4->protocol, &key);
  struct kdp_ct_entry* entry = bpf_map_lookup_elem(&kdp_ct, &key);
  return entry && !kdp_ct_is_over(entry, pkt, bpf_ktime_get_ns());
}

/*
 * Chooses the backend of a new connection: at random or by Maglev hash of
 * the flow, or, with ClientIP affinity, the one this client had while it is
 * within the timeout and its slot still holds that backend.
 */
KDP_INLINE int kdp_lb_choose(const struct kdp_service_info* service, __u32 client, __u32 flow_hash,
                             struct kdp_backend* chosen) {
  __u64 now = bpf_ktime_get_ns();
  struct kdp_affinity_key affinity_key = {.client_addr = client, .service_id = service->service_id};
  bool sticky = service->flags & KDP_SERVICE_F_AFFINITY;
  if (sticky) {
    struct kdp_affinity* held = bpf_map_lookup_elem(&kdp_affinity, &affinity_key);
    if (held && now - held->last_used_ns < (__u64)service->affinity_timeout_s * KDP_NS_PER_SEC) {
      struct kdp_backend_key key = {.service_id = service->service_id, .slot = held->slot};
      struct kdp_backend* backend = bpf_map_lookup_elem(&kdp_backends, &key);
      if (backend && backend->addr == held->backend.addr && backend->port == held->backend.port) {
        held->last_used_ns = now;
        *chosen = *backend;
        return 0;
      }
    }
  }
  struct kdp_backend_key key = {.service_id = service->service_id};
  if (kdp_lb_slot(service, flow_hash, &key.slot)) return -1;
  struct kdp_backend* backend = bpf_map_lookup_elem(&kdp_backends, &key);
  if (!backend) return -1;
  *chosen = *backend;
  if (sticky) {
    struct kdp_affinity record = {.last_used_ns = now, .backend = *backend, .slot = key.slot};
    bpf_map_update_elem(&kdp_affinity, &affinity_key, &record, BPF_ANY);
  }
  return 0;
}

/*
 * Translates a packet addressed to a Service, as seen from scope (pods, or
 * outside the cluster). *vip and *vport receive the Service address, for the
 * reverse translation of replies.
 */
KDP_INLINE int kdp_lb_translate(struct __sk_buff* skb, struct kdp_packet* pkt, __u8 scope,
                                __u32* vip, __u16* vport) {
  __u8 protocol = pkt->ip4->protocol;
  if (protocol != IPPROTO_TCP_NUM && protocol != IPPROTO_UDP_NUM) return KDP_LB_NONE;
  struct kdp_service_key service_key = {
      .vip = pkt->ip4->daddr, .port = pkt->dport, .protocol = protocol, .scope = scope};
  struct kdp_service_info* service = bpf_map_lookup_elem(&kdp_services, &service_key);
  if (!service) return KDP_LB_NONE;

  struct kdp_svc_flow_key flow_key = {.client_addr = pkt->ip4->saddr,
                                      .vip = pkt->ip4->daddr,
                                      .client_port = pkt->sport,
                                      .vport = pkt->dport,
                                      .protocol = protocol};
  struct kdp_backend chosen = {};
  struct kdp_backend* pinned = bpf_map_lookup_elem(&kdp_svc_flows, &flow_key);
  if (pinned && kdp_lb_flow_live(pkt, pinned)) {
    /* The rest of a connection: the same backend, even if it left the Service. */
    chosen = *pinned;
    kdp_count_service(service, skb->len, KDP_SVC_PACKET);
  } else {
    if (service->backend_count == 0) {
      kdp_count_service(service, 0, KDP_SVC_REFUSED);
      return KDP_LB_NO_BACKEND;
    }
    __u32 hash = kdp_flow_hash(pkt->ip4->saddr, pkt->ip4->daddr, pkt->sport, pkt->dport, protocol);
    if (kdp_lb_choose(service, pkt->ip4->saddr, hash, &chosen)) {
      kdp_count_service(service, 0, KDP_SVC_REFUSED);
      return KDP_LB_NO_BACKEND;
    }
    bpf_map_update_elem(&kdp_svc_flows, &flow_key, &chosen, BPF_ANY);
    kdp_count_service(service, skb->len, KDP_SVC_CONNECTION);
  }
  *vip = pkt->ip4->daddr;
  *vport = pkt->dport;
  if (kdp_nat_rewrite(skb, pkt, false, chosen.addr, chosen.port)) return KDP_LB_ERROR;
  if (pkt->ip4->saddr == pkt->ip4->daddr) {
    /* The pod is its own backend: it must not see its own address as the source. */
    if (kdp_nat_rewrite(skb, pkt, true, bpf_htonl(KDP_HAIRPIN_SOURCE), pkt->sport))
      return KDP_LB_ERROR;
    return KDP_LB_HAIRPIN;
  }
  return KDP_LB_TRANSLATED;
}

/* Undoes the translation on a reply: from the Service, and for a hairpin
 * flow back to the pod's own address instead of the hairpin source. */
KDP_INLINE int kdp_lb_reverse(struct __sk_buff* skb, struct kdp_packet* pkt,
                              const struct kdp_ct_entry* entry) {
  __u32 vip = entry->rev_nat_addr;
  __u16 vport = entry->rev_nat_port;
  if (entry->flags & KDP_CT_F_HAIRPIN) {
    if (kdp_nat_rewrite(skb, pkt, false, pkt->ip4->saddr, pkt->dport)) return -1;
  }
  return kdp_nat_rewrite(skb, pkt, true, vip, vport);
}

#endif /* KUBEDP_LIB_LB_H */
