/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Attach point: tc ingress of a pod's host-side veth, i.e. every packet that
 * leaves a pod. Composes the library: parse, source check, local delivery.
 */
#include "lib/common.h"
#include "lib/config.h"
#include "lib/conntrack.h"
#include "lib/endpoint.h"
#include "lib/events.h"
#include "lib/lb.h"
#include "lib/metrics.h"
#include "lib/parse.h"
#include "lib/policy.h"
#include "lib/reject.h"
#include "lib/route.h"

KDP_INLINE int kdp_pass(struct __sk_buff* skb, __u32 reason) {
  kdp_count(skb, reason, KDP_DIR_FROM_POD);
  return TC_ACT_OK;
}

/* A pod may only send with its own address from its own veth: the sender, or NULL. */
KDP_INLINE struct kdp_endpoint_info* kdp_sender(struct __sk_buff* skb, __u32 saddr) {
  struct kdp_endpoint_info* src = kdp_lookup_endpoint(saddr);
  return src && src->ifindex == skb->ingress_ifindex ? src : NULL;
}

/* What Service translation did to a packet, for the flow's conntrack record. */
struct kdp_translation {
  __u32 vip;
  __u16 vport;
  __u8 ct_flags;
};

/* Records a new flow once it may pass. */
KDP_INLINE void kdp_record_if_new(struct __sk_buff* skb, const struct kdp_packet* pkt,
                                  int ct_verdict, const struct kdp_ct_lookup* ct,
                                  const struct kdp_translation* tr) {
  if (ct_verdict == KDP_CT_NEW)
    kdp_ct_record_new(skb, pkt, ct, &kdp_config.ct_timeouts, tr->vip, tr->vport, tr->ct_flags);
}

/*
 * Off-node traffic leaves through the node device when the node has one
 * (where it is masqueraded, and replies of NodePort flows leave from the
 * node's address); else the kernel's routing decides.
 */
KDP_INLINE int kdp_leave_node(struct __sk_buff* skb, struct kdp_packet* pkt) {
  if (!kdp_config.node_ifindex) return kdp_pass(skb, KDP_TO_STACK);
  int verdict = TC_ACT_OK;
  if (kdp_route_out(pkt, kdp_config.node_ifindex, &verdict) == KDP_ROUTE_TTL)
    return kdp_drop(skb, pkt, KDP_DROP_TTL_EXCEEDED, KDP_DIR_FROM_POD);
  if (verdict != TC_ACT_REDIRECT)
    return kdp_drop(skb, NULL, KDP_DROP_REDIRECT_FAILED, KDP_DIR_FROM_POD);
  kdp_count(skb, KDP_TO_UPLINK, KDP_DIR_FROM_POD);
  return verdict;
}

SEC("tc")
int kdp_from_pod(struct __sk_buff* skb) {
  struct kdp_packet pkt = {};
  int parsed = kdp_parse_ipv4(skb, &pkt);
  if (parsed == KDP_PARSE_NOT_IPV4) return kdp_pass(skb, KDP_PASS_NON_IPV4);
  if (parsed != KDP_PARSE_IPV4) return kdp_drop(skb, NULL, KDP_DROP_MALFORMED, KDP_DIR_FROM_POD);

  struct kdp_endpoint_info* src = kdp_sender(skb, pkt.ip4->saddr);
  if (!src) return kdp_drop(skb, &pkt, KDP_DROP_SPOOFED_SOURCE, KDP_DIR_FROM_POD);

  /* A packet to a Service becomes a packet to a backend before anything else,
   * so conntrack, policy and delivery all see the real destination. */
  struct kdp_translation tr = {};
  int lb = kdp_lb_translate(skb, &pkt, KDP_SCOPE_INTERNAL, &tr.vip, &tr.vport);
  if (lb == KDP_LB_NO_BACKEND) {
    /* Refuse at once rather than let the client time out: TCP gets a reset,
     * UDP a port unreachable. */
    kdp_drop(skb, &pkt, KDP_DROP_NO_BACKEND, KDP_DIR_FROM_POD);
    return kdp_reject(skb, &pkt);
  }
  if (lb == KDP_LB_ERROR) return kdp_drop(skb, NULL, KDP_DROP_MALFORMED, KDP_DIR_FROM_POD);
  /* A pod reaching itself through its Service is always allowed. */
  bool hairpin = lb == KDP_LB_HAIRPIN;
  tr.ct_flags = hairpin ? KDP_CT_F_HAIRPIN : 0;

  struct kdp_ct_lookup ct = {};
  int ct_verdict = kdp_ct_track(skb, &pkt, &kdp_config.ct_timeouts, &ct);
  /* Replies of an allowed connection (and ICMP errors about it) always pass;
   * everything else meets policy. */
  bool check_policy = ct_verdict != KDP_CT_REPLY && ct_verdict != KDP_CT_RELATED && !hairpin;
  /* A reply of a translated flow leaves with the Service's address. */
  if (ct_verdict == KDP_CT_REPLY && ct.entry && ct.entry->rev_nat_addr) {
    if (kdp_lb_reverse(skb, &pkt, ct.entry))
      return kdp_drop(skb, NULL, KDP_DROP_MALFORMED, KDP_DIR_FROM_POD);
  }
  __u32 saddr = pkt.ip4->saddr;
  __u32 daddr = pkt.ip4->daddr;

  if (daddr == kdp_config.router_ip || (kdp_config.node_ip && daddr == kdp_config.node_ip)) {
    /* The pod's own node is always reachable (kubelet probes answer through it). */
    kdp_record_if_new(skb, &pkt, ct_verdict, &ct, &tr);
    return kdp_pass(skb, KDP_TO_HOST);
  }
  if (check_policy && !kdp_policy_allows(src, KDP_POLICY_EGRESS, daddr, &pkt))
    return kdp_drop(skb, &pkt, KDP_DROP_POLICY_EGRESS, KDP_DIR_FROM_POD);

  struct kdp_endpoint_info* dst = kdp_lookup_endpoint(daddr);
  if (dst) {
    if (check_policy && !kdp_policy_allows(dst, KDP_POLICY_INGRESS, saddr, &pkt))
      return kdp_drop(skb, &pkt, KDP_DROP_POLICY_INGRESS, KDP_DIR_FROM_POD);
    if (pkt.ip4->ttl <= 1) return kdp_drop(skb, &pkt, KDP_DROP_TTL_EXCEEDED, KDP_DIR_FROM_POD);
    kdp_record_if_new(skb, &pkt, ct_verdict, &ct, &tr);
    /* Verdict logging: new flows where policy was consulted (not a pod to itself). */
    __u8 isolated = (src->flags & KDP_ENDPOINT_F_EGRESS_ISOLATED ? 1 : 0) |
                    (dst->flags & KDP_ENDPOINT_F_INGRESS_ISOLATED ? 2 : 0);
    if (ct_verdict == KDP_CT_NEW && isolated && !hairpin) kdp_report_allow(skb, &pkt, isolated);
    int verdict = kdp_deliver_local(&pkt, dst);
    if (verdict != TC_ACT_REDIRECT)
      return kdp_drop(skb, NULL, KDP_DROP_REDIRECT_FAILED, KDP_DIR_FROM_POD);
    kdp_count(skb, KDP_FORWARDED, KDP_DIR_FROM_POD);
    return verdict;
  }
  if (kdp_in_pod_range(daddr)) return kdp_drop(skb, &pkt, KDP_DROP_UNKNOWN_DEST, KDP_DIR_FROM_POD);
  kdp_record_if_new(skb, &pkt, ct_verdict, &ct, &tr);
  if (ct_verdict == KDP_CT_NEW && (src->flags & KDP_ENDPOINT_F_EGRESS_ISOLATED))
    kdp_report_allow(skb, &pkt, 1);
  return kdp_leave_node(skb, &pkt);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
