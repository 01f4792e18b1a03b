// Compile-time checks that the C++ view of the datapath ABI matches the layout
// the BPF programs were built with: a drift here fails the build, not a node.
#include <cstddef>

#include "kubedp/abi.h"

static_assert(sizeof(kdp_endpoint_key) == 4);
static_assert(sizeof(kdp_endpoint_info) == 32);
static_assert(offsetof(kdp_endpoint_info, pod_mac) == 12);
static_assert(offsetof(kdp_endpoint_info, host_mac) == 18);
static_assert(offsetof(kdp_endpoint_info, flags) == 24);
static_assert(sizeof(kdp_metric) == 16);
static_assert(sizeof(kdp_event_header) == 16);
static_assert(sizeof(kdp_drop_event) == 40);
static_assert(offsetof(kdp_drop_event, ifindex) == 16);
static_assert(offsetof(kdp_drop_event, protocol) == 32);
static_assert(offsetof(kdp_drop_event, length) == 36);
static_assert(sizeof(kdp_node_config) == 80);
static_assert(offsetof(kdp_node_config, netns_cookie) == 72);
static_assert(sizeof(kdp_sock_rev_key) == 16);
static_assert(sizeof(kdp_sock_rev) == 8);
static_assert(sizeof(kdp_service_metric) == 32);
static_assert(offsetof(kdp_node_config, node_ifindex) == 48);
static_assert(offsetof(kdp_node_config, snat_port_min) == 56);
static_assert(offsetof(kdp_node_config, ct_timeouts) == 16);
static_assert(sizeof(kdp_ct_key) == 16);
static_assert(offsetof(kdp_ct_key, port_a) == 8);
static_assert(offsetof(kdp_ct_key, protocol) == 12);
static_assert(sizeof(kdp_ct_entry) == 64);
static_assert(offsetof(kdp_ct_entry, rev_nat_addr) == 60);
static_assert(offsetof(kdp_ct_entry, state) == 56);
static_assert(sizeof(kdp_ct_timeouts) == 32);
static_assert(sizeof(kdp_gc_args) == 16);
static_assert(KDP_FIRST_DROP == KDP_DROP_UNKNOWN_DEST, "drops start at 128");
static_assert(sizeof(kdp_policy_peer_key) == 16);
static_assert(offsetof(kdp_policy_peer_key, remote) == 12);
static_assert(sizeof(kdp_policy_port_key) == 12);
static_assert(offsetof(kdp_policy_port_key, port) == 10);
static_assert(sizeof(kdp_policy_rules) == 8);
static_assert(sizeof(kdp_policy_allow_event) == 40);
static_assert(offsetof(kdp_policy_allow_event, saddr) == 16);
static_assert(sizeof(kdp_service_key) == 8);
static_assert(sizeof(kdp_service_info) == 12);
static_assert(sizeof(kdp_affinity_key) == 8);
static_assert(sizeof(kdp_affinity) == 24);
static_assert(sizeof(kdp_backend_key) == 8);
static_assert(sizeof(kdp_backend) == 8);
static_assert(sizeof(kdp_svc_flow_key) == 16);
static_assert(offsetof(kdp_service_key, scope) == 7);
static_assert(sizeof(kdp_nat_key) == 16);
static_assert(offsetof(kdp_nat_key, protocol) == 12);
static_assert(offsetof(kdp_nat_key, direction) == 13);
static_assert(sizeof(kdp_nat_entry) == 16);
static_assert(offsetof(kdp_nat_entry, created_ns) == 8);
static_assert(sizeof(kdp_no_masq_key) == 8);
