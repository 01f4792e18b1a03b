/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Attach points: tc ingress and egress of the node device (the uplink).
 *
 * Ingress, in this order: replies of translated flows (masqueraded pods, the
 * node's own connections), and ICMP errors about them, go back to whoever
 * started them; only then are
 * NodePort, LoadBalancer and external IPs balanced to local backends; traffic
 * routed to a local pod is delivered under its ingress policy; the rest is
 * the node's.
 *
 * Egress: pod traffic leaving the cluster takes the node's address
 * (masquerade), and the node's own flows are tracked and keep their ports
 * reserved in the same NAT table.
 */
#include "lib/common.h"
#include "lib/config.h"
#include "lib/conntrack.h"
#include "lib/endpoint.h"
#include "lib/events.h"
#include "lib/lb.h"
#include "lib/metrics.h"
#include "lib/nat.h"
#include "lib/parse.h"
#include "lib/policy.h"
#include "lib/reject.h"

KDP_INLINE int kdp_to_node(struct __sk_buff* skb, __u32 reason) {
  kdp_count(skb, reason, KDP_DIR_TO_POD);
  return TC_ACT_OK;
}

KDP_INLINE int kdp_deliver_from_uplink(struct __sk_buff* skb, struct kdp_packet* pkt,
                                       const struct kdp_endpoint_info* dst) {
  if (pkt->ip4->ttl <= 1) return kdp_drop(skb, pkt, KDP_DROP_TTL_EXCEEDED, KDP_DIR_TO_POD);
  int verdict = kdp_deliver_local(pkt, dst);
  if (verdict != TC_ACT_REDIRECT)
    return kdp_drop(skb, NULL, KDP_DROP_REDIRECT_FAILED, KDP_DIR_TO_POD);
  kdp_count(skb, KDP_FORWARDED, KDP_DIR_TO_POD);
  return verdict;
}

/* A reply of a flow that left through the NAT table, already translated back. */
KDP_INLINE int kdp_nat_reply(struct __sk_buff* skb, struct kdp_packet* pkt) {
  struct kdp_ct_lookup ct = {};
  kdp_ct_track(skb, pkt, &kdp_config.ct_timeouts, &ct);
  struct kdp_endpoint_info* dst = kdp_lookup_endpoint(pkt->ip4->daddr);
  if (dst) return kdp_deliver_from_uplink(skb, pkt, dst);
  return kdp_to_node(skb, KDP_FROM_UPLINK);
}

SEC("tc")
int kdp_from_netdev(struct __sk_buff* skb) {
  struct kdp_packet pkt = {};
  int parsed = kdp_parse_ipv4(skb, &pkt);
  if (parsed == KDP_PARSE_NOT_IPV4) return kdp_to_node(skb, KDP_PASS_NON_IPV4);
  if (parsed != KDP_PARSE_IPV4) return kdp_drop(skb, NULL, KDP_DROP_MALFORMED, KDP_DIR_TO_POD);

  /* Replies first: a translated port may equal a NodePort and must never be
   * taken for Service traffic. */
  int nat = pkt.icmp_error ? kdp_snat_reverse_icmp_error(skb, &pkt) : kdp_snat_reverse(skb, &pkt);
  if (nat < 0) return kdp_drop(skb, NULL, KDP_DROP_NAT_FAILED, KDP_DIR_TO_POD);
  if (nat > 0) return kdp_nat_reply(skb, &pkt);

  __u32 vip = 0;
  __u16 vport = 0;
  int lb = kdp_lb_translate(skb, &pkt, KDP_SCOPE_EXTERNAL, &vip, &vport);
  if (lb == KDP_LB_NO_BACKEND) {
    kdp_drop(skb, &pkt, KDP_DROP_NO_BACKEND, KDP_DIR_TO_POD);
    return kdp_reject(skb, &pkt);
  }
  if (lb == KDP_LB_ERROR) return kdp_drop(skb, NULL, KDP_DROP_MALFORMED, KDP_DIR_TO_POD);

  struct kdp_endpoint_info* dst = kdp_lookup_endpoint(pkt.ip4->daddr);
  if (!dst) {
    /* A backend on another node: no path to it from here yet. */
    if (lb != KDP_LB_NONE) return kdp_drop(skb, &pkt, KDP_DROP_UNKNOWN_DEST, KDP_DIR_TO_POD);
    return kdp_to_node(skb, KDP_FROM_UPLINK);
  }
  struct kdp_ct_lookup ct = {};
  int ct_verdict = kdp_ct_track(skb, &pkt, &kdp_config.ct_timeouts, &ct);
  if (ct_verdict != KDP_CT_REPLY && ct_verdict != KDP_CT_RELATED &&
      !kdp_policy_allows(dst, KDP_POLICY_INGRESS, pkt.ip4->saddr, &pkt))
    return kdp_drop(skb, &pkt, KDP_DROP_POLICY_INGRESS, KDP_DIR_TO_POD);
  if (ct_verdict == KDP_CT_NEW) {
    kdp_ct_record_new(skb, &pkt, &ct, &kdp_config.ct_timeouts, vip, vport, 0);
    if (dst->flags & KDP_ENDPOINT_F_INGRESS_ISOLATED) kdp_report_allow(skb, &pkt, 2);
  }
  return kdp_deliver_from_uplink(skb, &pkt, dst);
}

/* The node's own flow: tracked, and its port held in the NAT table (kept
 * when free, so the node's connections normally leave unchanged). */
KDP_INLINE int kdp_track_node_flow(struct __sk_buff* skb, struct kdp_packet* pkt,
                                   struct kdp_snat_range range) {
  struct kdp_ct_lookup ct = {};
  if (kdp_ct_track(skb, pkt, &kdp_config.ct_timeouts, &ct) == KDP_CT_NEW)
    kdp_ct_record_new(skb, pkt, &ct, &kdp_config.ct_timeouts, 0, 0, 0);
  /* Never drop the node's traffic: without a port it leaves as it is. */
  kdp_snat(skb, pkt, kdp_config.node_ip, range, true, KDP_NAT_F_HOST);
  return TC_ACT_OK;
}

SEC("tc")
int kdp_to_netdev(struct __sk_buff* skb) {
  struct kdp_packet pkt = {};
  if (kdp_parse_ipv4(skb, &pkt) != KDP_PARSE_IPV4) return TC_ACT_OK;
  if (!pkt.trackable || !kdp_config.node_ip) return TC_ACT_OK;
  struct kdp_snat_range range = {.min = kdp_config.snat_port_min, .max = kdp_config.snat_port_max};
  __u32 saddr = pkt.ip4->saddr;

  if (kdp_in_pod_range(saddr)) {
    if (!kdp_masquerade_enabled() || !kdp_masquerade_wanted(pkt.ip4->daddr)) return TC_ACT_OK;
    int snat = kdp_snat(skb, &pkt, kdp_config.node_ip, range, false, 0);
    if (snat == KDP_SNAT_EXHAUSTED)
      return kdp_drop(skb, &pkt, KDP_DROP_NAT_EXHAUSTED, KDP_DIR_FROM_POD);
    /* A failed rewrite leaves the packet unparsed: no flow in the record. */
    if (snat != KDP_SNAT_OK) return kdp_drop(skb, NULL, KDP_DROP_NAT_FAILED, KDP_DIR_FROM_POD);
    kdp_count(skb, KDP_MASQUERADED, KDP_DIR_FROM_POD);
    return TC_ACT_OK;
  }
  /* Sent by the node's own stack (forwarded packets have an ingress device). */
  if (saddr == kdp_config.node_ip && skb->ingress_ifindex == 0)
    return kdp_track_node_flow(skb, &pkt, range);
  return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
