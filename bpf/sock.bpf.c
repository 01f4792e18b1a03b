/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Attach points: cgroup connect4, sendmsg4 and recvmsg4. Processes of the
 * node itself reach Services at the socket: the destination of a connect or
 * of a datagram becomes a backend before any packet exists, so no per-packet
 * translation is needed, and unconnected UDP receives its replies from the
 * Service address. Attached to a cgroup that other network namespaces share,
 * the hooks act only for sockets of the node's own namespace.
 */
#include "lib/common.h"
#include "lib/config.h"
#include "lib/lb.h"

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, KDP_SOCK_REV_MAX);
  __type(key, struct kdp_sock_rev_key);
  __type(value, struct kdp_sock_rev);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} kdp_sock_rev SEC(".maps");

#define KDP_SOCK_ALLOW 1
#define KDP_SOCK_REJECT 0

KDP_INLINE bool kdp_sock_of_this_node(struct bpf_sock_addr* ctx) {
  return kdp_config.netns_cookie && bpf_get_netns_cookie(ctx) == kdp_config.netns_cookie;
}

/*
 * Points the socket at a backend when its destination is a Service. The node
 * is the client for ClientIP affinity, as with kube-proxy. remember: keep the
 * Service address for the replies of unconnected UDP.
 */
KDP_INLINE int kdp_sock_translate(struct bpf_sock_addr* ctx, bool remember) {
  if (!kdp_sock_of_this_node(ctx)) return KDP_SOCK_ALLOW;
  __u8 protocol = ctx->protocol;
  if (protocol != IPPROTO_TCP_NUM && protocol != IPPROTO_UDP_NUM) return KDP_SOCK_ALLOW;
  struct kdp_service_key key = {.vip = ctx->user_ip4,
                                .port = (__u16)ctx->user_port,
                                .protocol = protocol,
                                .scope = KDP_SCOPE_INTERNAL};
  struct kdp_service_info* service = bpf_map_lookup_elem(&kdp_services, &key);
  if (!service) return KDP_SOCK_ALLOW;
  struct kdp_backend chosen = {};
  /* A socket has no source port yet: its cookie stands in for the flow. */
  __u32 hash = (__u32)bpf_get_socket_cookie(ctx);
  if (service->backend_count == 0 || kdp_lb_choose(service, kdp_config.node_ip, hash, &chosen)) {
    kdp_count_service(service, 0, KDP_SVC_REFUSED);
    return KDP_SOCK_REJECT; /* connect() and sendmsg() fail at once (EPERM) */
  }
  /* A socket's packets are not seen here: its connects and sends are counted. */
  kdp_count_service(service, 0, KDP_SVC_CONNECTION);
  if (remember) {
    struct kdp_sock_rev_key rev_key = {
        .cookie = bpf_get_socket_cookie(ctx), .backend = chosen.addr, .backend_port = chosen.port};
    struct kdp_sock_rev rev = {.vip = key.vip, .vport = key.port};
    bpf_map_update_elem(&kdp_sock_rev, &rev_key, &rev, BPF_ANY);
  }
  ctx->user_ip4 = chosen.addr;
  ctx->user_port = chosen.port;
  return KDP_SOCK_ALLOW;
}

SEC("cgroup/connect4")
int kdp_sock_connect4(struct bpf_sock_addr* ctx) {
  /* A connected UDP socket receives through recvmsg too. */
  return kdp_sock_translate(ctx, ctx->protocol == IPPROTO_UDP_NUM);
}

SEC("cgroup/sendmsg4")
int kdp_sock_sendmsg4(struct bpf_sock_addr* ctx) {
  return kdp_sock_translate(ctx, true);
}

SEC("cgroup/recvmsg4")
int kdp_sock_recvmsg4(struct bpf_sock_addr* ctx) {
  if (!kdp_sock_of_this_node(ctx)) return KDP_SOCK_ALLOW;
  struct kdp_sock_rev_key key = {.cookie = bpf_get_socket_cookie(ctx),
                                 .backend = ctx->user_ip4,
                                 .backend_port = (__u16)ctx->user_port};
  struct kdp_sock_rev* rev = bpf_map_lookup_elem(&kdp_sock_rev, &key);
  if (rev) {
    ctx->user_ip4 = rev->vip;
    ctx->user_port = rev->vport;
  }
  return KDP_SOCK_ALLOW;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
