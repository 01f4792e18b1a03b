/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kubedp datapath ABI: every map key and value, event record and shared
 * constant, defined once in plain C that both clang -target bpf and the C++
 * agent compile. Pinned maps are an upgrade contract: fields are appended,
 * never reused; a retired field stays as `reserved`. Sizes and offsets are
 * checked by static_asserts in src/datapath/abi_check.cc.
 */
#ifndef KUBEDP_ABI_H
#define KUBEDP_ABI_H

#ifndef __bpf__
#include <linux/types.h>
#endif

/* 2: kdp_ct_entry packed to 64 bytes (a million flows in under 150 MB);
 * an agent of ABI 2 refuses pins of ABI 1 (uninstall to move on). */
#define KUBEDP_ABI_VERSION 2

/* Map names: also the file names of the pins under the node's bpffs directory. */
#define KDP_MAP_ENDPOINTS "kdp_endpoints"
#define KDP_MAP_METRICS "kdp_metrics"
#define KDP_MAP_EVENTS "kdp_events"
#define KDP_MAP_CT "kdp_ct"
#define KDP_MAP_POLICY_PEERS "kdp_pol_peers"
#define KDP_MAP_POLICY_PORTS "kdp_pol_ports"
#define KDP_POLICY_MAX 65536
#define KDP_MAP_SERVICES "kdp_services"
#define KDP_MAP_BACKENDS "kdp_backends"
#define KDP_MAP_SVC_FLOWS "kdp_svc_flows"
#define KDP_MAP_AFFINITY "kdp_affinity"
#define KDP_MAP_NAT "kdp_nat"
#define KDP_MAP_NO_MASQ "kdp_no_masq"
/* Default NAT size (two entries per masqueraded or host flow); --nat-max-entries. */
#define KDP_NAT_DEFAULT_MAX 262144
#define KDP_NO_MASQ_MAX 1024
#define KDP_MAP_SVC_METRICS "kdp_svc_metrics"
#define KDP_MAP_MAGLEV "kdp_maglev"
#define KDP_MAGLEV_SIZE 1021 /* slots of a Maglev table: prime */
#define KDP_MAGLEV_MAX 16384 /* Services with a Maglev table */
#define KDP_MAP_SOCK_REV "kdp_sock_rev"
#define KDP_SOCK_REV_MAX 65536
#define KDP_SERVICES_MAX 65536
#define KDP_BACKENDS_MAX 262144
#define KDP_SVC_FLOWS_MAX 262144
#define KDP_AFFINITY_MAX 65536
#define KDP_ENDPOINTS_MAX 65536
#define KDP_EVENTS_RING_BYTES (256 * 1024)
/* Default conntrack size; the agent sets it from --ct-max-entries at load. */
#define KDP_CT_DEFAULT_MAX 262144

/*
 * Verdicts and drop reasons, one registry. X(NAME, code, "label"):
 * codes below 128 are passes, 128 and above are drops. The C enum, the C++
 * names, metric labels and CLI output are all generated from this list.
 */
#define KDP_REASONS(X)                                                                        \
  X(FORWARDED, 0, "forwarded")         /* redirected to a local pod */                        \
  X(TO_HOST, 1, "to-host")             /* addressed to the node itself */                     \
  X(TO_STACK, 2, "to-stack")           /* off-node: left to kernel routing */                 \
  X(PASS_NON_IPV4, 3, "pass-non-ipv4") /* ARP, IPv6: left to the kernel */                    \
  X(TO_UPLINK, 4, "to-uplink")         /* off-node: sent out of the node device */            \
  X(MASQUERADED, 5, "masqueraded")     /* leaving with the node's address */                  \
  X(FROM_UPLINK, 6, "from-uplink")     /* arrived on the node device, left to the node */     \
  X(DROP_UNKNOWN_DEST, 128, "unknown-destination") /* pod range, no endpoint */               \
  X(DROP_MALFORMED, 129, "malformed-packet")                                                  \
  X(DROP_TTL_EXCEEDED, 130, "ttl-exceeded")                                                   \
  X(DROP_SPOOFED_SOURCE, 131, "spoofed-source") /* source is not the pod's IP */              \
  X(DROP_REDIRECT_FAILED, 132, "redirect-failed")                                             \
  X(DROP_POLICY_EGRESS, 133, "policy-denied-egress")   /* source pod's egress */              \
  X(DROP_POLICY_INGRESS, 134, "policy-denied-ingress") /* destination's ingress */            \
  X(DROP_NO_BACKEND, 135, "service-without-backend")   /* ClusterIP with no usable backend */ \
  X(DROP_NAT_EXHAUSTED, 136, "snat-ports-exhausted")   /* no free SNAT port for the tuple */  \
  X(DROP_NAT_FAILED, 137, "nat-rewrite-failed")        /* a NAT entry could not be written */

#define KDP_REASON_ENUM_ENTRY(name, code, label) KDP_##name = code,
enum kdp_reason { KDP_REASONS(KDP_REASON_ENUM_ENTRY) };
#undef KDP_REASON_ENUM_ENTRY

#define KDP_REASON_MAX 256
#define KDP_FIRST_DROP 128

/* Direction of a packet, seen from the pod. */
enum kdp_direction {
  KDP_DIR_FROM_POD = 0, /* pod egress: host-side veth ingress */
  KDP_DIR_TO_POD = 1,   /* pod ingress */
  KDP_DIR_MAX = 2,
};

/* kdp_endpoints: HASH, pod IPv4 address -> where and who the pod is. */
struct kdp_endpoint_key {
  __u32 ip; /* network byte order */
};

struct kdp_endpoint_info {
  __u32 ifindex;     /* host-side veth, in the node's network namespace */
  __u32 endpoint_id; /* stable id from the endpoint store, never 0 */
  __u32 identity;    /* security identity (policy); 0 until assigned */
  __u8 pod_mac[6];   /* MAC of the pod's interface */
  __u8 host_mac[6];  /* MAC of the host-side veth */
  __u32 flags;       /* KDP_ENDPOINT_F_* */
  __u32 reserved;
};

/*
 * Services. kdp_services: (VIP, port, protocol) -> service id and the number
 * of backends that take new connections; kdp_backends: (service id, slot) ->
 * backend address. kdp_svc_flows: a client's (source, VIP) tuple -> the
 * backend chosen for it, so every packet of a connection goes to the same
 * backend; conntrack (keyed on the translated tuple) decides when the flow
 * is over, and a new connection on the same tuple chooses again.
 */
struct kdp_service_key {
  __u32 vip;  /* network byte order */
  __u16 port; /* network byte order */
  __u8 protocol;
  __u8 scope; /* kdp_service_scope: who is connecting (was padding, always 0) */
};

/*
 * Traffic from the node's pods and traffic from outside the cluster can see
 * different backends for one frontend (externalTrafficPolicy Local narrows
 * only the latter), so each frontend has an entry per scope.
 */
enum kdp_service_scope {
  KDP_SCOPE_INTERNAL = 0, /* from pods (and the node) */
  KDP_SCOPE_EXTERNAL = 1, /* arrived on the node device from outside */
};

struct kdp_service_info {
  __u32 service_id;
  __u16 backend_count;      /* usable for new connections; 0: reject */
  __u16 flags;              /* KDP_SERVICE_F_* */
  __u32 affinity_timeout_s; /* sessionAffinity ClientIP: seconds a client stays */
};

#define KDP_SERVICE_F_AFFINITY 0x1
#define KDP_SERVICE_F_MAGLEV 0x2 /* new connections by Maglev hash of the flow, not at random */

/* kdp_svc_metrics: PERCPU_ARRAY indexed by service id (KDP_SERVICES_MAX + 1):
 * what the datapath did for each frontend, forward direction. */
struct kdp_service_metric {
  __u64 connections; /* new connections given a backend */
  __u64 packets;     /* packets translated to a backend */
  __u64 bytes;
  __u64 refused; /* new connections refused: no usable backend */
};

/* kdp_maglev: HASH, service id -> its Maglev table: each slot holds a backend
 * slot number (kdp_backend_key.slot). */
struct kdp_maglev_table {
  __u32 slots[KDP_MAGLEV_SIZE];
};

struct kdp_backend_key {
  __u32 service_id;
  __u32 slot;
};

struct kdp_backend {
  __u32 addr; /* network byte order */
  __u16 port; /* network byte order */
  __u16 pad;
};

/* kdp_affinity: LRU, (client address, service) -> the backend slot it was
 * given and when it last used it. A slot whose backend changed is void. */
struct kdp_affinity_key {
  __u32 client_addr; /* network byte order */
  __u32 service_id;
};

struct kdp_affinity {
  __u64 last_used_ns;
  struct kdp_backend backend;
  __u32 slot;
  __u32 reserved;
};

struct kdp_svc_flow_key {
  __u32 client_addr; /* network byte order */
  __u32 vip;
  __u16 client_port;
  __u16 vport;
  __u8 protocol;
  __u8 pad[3];
};

/* kdp_endpoint_info.flags */
#define KDP_ENDPOINT_F_INGRESS_ISOLATED 0x1 /* a NetworkPolicy selects it for ingress */
#define KDP_ENDPOINT_F_EGRESS_ISOLATED 0x2  /* a NetworkPolicy selects it for egress */

/*
 * NetworkPolicy, per endpoint and direction, as two LPM tries whose values
 * are sets of rule bits (one bit per compiled rule, at most 64 per endpoint
 * and direction). A connection is allowed when the rules matching the remote
 * address and the rules matching the protocol and port share a bit:
 *   kdp_pol_peers: (endpoint, direction, remote address prefix) -> rule bits
 *   kdp_pol_ports: (endpoint, direction, protocol, port prefix) -> rule bits
 * CIDRs (with except) and port ranges (with endPort) become prefixes; the
 * value of a prefix already holds the bits of every prefix that contains it.
 * A rule without peers is a /0 remote prefix; without ports, a prefix that
 * ends before the protocol.
 */
enum kdp_policy_direction {
  KDP_POLICY_INGRESS = 0,
  KDP_POLICY_EGRESS = 1,
};

#define KDP_POLICY_PEER_FIXED_BITS 64 /* endpoint_id, direction, pad */
#define KDP_POLICY_PORT_FIXED_BITS 40 /* endpoint_id, direction */

struct kdp_policy_peer_key {
  __u32 prefixlen;   /* KDP_POLICY_PEER_FIXED_BITS + remote prefix length */
  __u32 endpoint_id; /* network byte order */
  __u8 direction;
  __u8 pad[3];
  __u32 remote; /* network byte order */
};

struct kdp_policy_port_key {
  __u32 prefixlen;   /* KDP_POLICY_PORT_FIXED_BITS, or + 8 (protocol) + port prefix */
  __u32 endpoint_id; /* network byte order */
  __u8 direction;
  __u8 protocol;
  __u16 port; /* network byte order */
};

struct kdp_policy_rules {
  __u64 bits;
};

/* kdp_metrics: PERCPU_ARRAY indexed by kdp_metric_index(reason, direction). */
struct kdp_metric {
  __u64 packets;
  __u64 bytes;
};

static inline __u32 kdp_metric_index(__u32 reason, __u32 direction) {
  return reason * KDP_DIR_MAX + direction;
}

#define KDP_METRICS_MAX (KDP_REASON_MAX * KDP_DIR_MAX)

/* kdp_events: RINGBUF of records that start with kdp_event_header. */
enum kdp_event_type {
  KDP_EVENT_DROP = 1,
  KDP_EVENT_POLICY_ALLOW = 2, /* first packet of a flow that policy let through */
};

struct kdp_event_header {
  __u64 timestamp_ns; /* bpf_ktime_get_ns() */
  __u16 type;         /* kdp_event_type */
  __u16 size;         /* bytes of the whole record */
  __u32 reserved;
};

struct kdp_drop_event {
  struct kdp_event_header header;
  __u32 ifindex; /* where the packet was seen */
  __u32 saddr;   /* network byte order */
  __u32 daddr;   /* network byte order */
  __u16 sport;   /* network byte order, 0 for non-TCP/UDP */
  __u16 dport;   /* network byte order, 0 for non-TCP/UDP */
  __u8 protocol;
  __u8 reason;    /* kdp_reason */
  __u8 direction; /* kdp_direction */
  __u8 reserved;
  __u32 length; /* bytes on the wire */
};

/*
 * kdp_ct: LRU_HASH, one record per flow seen by both directions. The key is
 * the flow's two endpoints in a canonical order (lower address first, then
 * lower port), so a packet and its reply find the same record; the record
 * remembers which endpoint started the flow. ICMP echo uses the identifier as
 * both ports.
 */
struct kdp_ct_key {
  __u32 addr_a; /* network byte order; (addr_a, port_a) <= (addr_b, port_b) */
  __u32 addr_b;
  __u16 port_a; /* network byte order */
  __u16 port_b;
  __u8 protocol;
  __u8 reserved[3];
};

enum kdp_ct_state {
  KDP_CT_UNREPLIED = 1,   /* UDP/ICMP: only the initiator has sent */
  KDP_CT_SYN_SENT = 2,    /* TCP: SYN seen, no reply yet */
  KDP_CT_ESTABLISHED = 3, /* both directions seen */
  KDP_CT_FIN_WAIT = 4,    /* TCP: one side sent FIN */
  KDP_CT_CLOSING = 5,     /* TCP: both sides sent FIN */
  KDP_CT_CLOSED = 6,      /* TCP: RST seen */
};

/* kdp_ct_entry.flags */
#define KDP_CT_F_INITIATOR_IS_A 0x01 /* the flow was started by (addr_a, port_a) */
#define KDP_CT_F_SEEN_REPLY 0x02
#define KDP_CT_F_FIN_ORIGINAL 0x04
#define KDP_CT_F_FIN_REPLY 0x08
#define KDP_CT_F_HAIRPIN 0x10 /* a pod reached itself through a Service */

/*
 * A pod that reaches itself through a Service gets its own packets from this
 * link-local address, which it accepts (its own address as a source would
 * be dropped as martian).
 */
#define KDP_HAIRPIN_SOURCE 0xa9fe2a01 /* 169.254.42.1, host byte order */

struct kdp_ct_entry {
  __u64 created_ns; /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
  __u64 last_seen_ns;
  __u64 expires_ns; /* garbage once the clock passes it */
  __u64 packets_original;
  __u64 packets_reply;
  __u64 bytes_original;
  __u64 bytes_reply;
  __u8 state; /* kdp_ct_state */
  __u8 flags; /* KDP_CT_F_* */
  /* Service translation: replies leave with this source (the VIP). 0: none. */
  __u16 rev_nat_port; /* network byte order */
  __u32 rev_nat_addr; /* network byte order */
};

/* What conntrack says about a packet. */
enum kdp_ct_verdict {
  KDP_CT_NEW = 0,       /* first packet of a flow (or of a reused tuple) */
  KDP_CT_ORIGINAL = 1,  /* later packet from the initiator */
  KDP_CT_REPLY = 2,     /* packet from the responder */
  KDP_CT_UNTRACKED = 3, /* not TCP, UDP or ICMP echo */
  KDP_CT_RELATED = 4,   /* an ICMP error about a tracked flow: passes as its reply would */
};

/* The conntrack sweep (bpf/gc.bpf.c, a syscall program) deletes the
 * candidates the agent found expired in one batch read of kdp_ct, each only
 * if it is still expired: in: the clock and how many candidates are in
 * kdp_gc_candidates (at most KDP_GC_BATCH); out: how many it removed. */
#define KDP_GC_BATCH 4096
struct kdp_gc_args {
  __u64 now_ns;
  __u32 count;
  __u32 removed;
};

/* Timeouts in seconds, per protocol and state (set at load from agent flags). */
struct kdp_ct_timeouts {
  __u32 tcp_syn;
  __u32 tcp_established;
  __u32 tcp_fin_wait;
  __u32 tcp_close;
  __u32 udp_unreplied;
  __u32 udp_replied;
  __u32 icmp;
  __u32 reserved;
};

/* A new flow allowed where policy was consulted (some side isolated). */
struct kdp_policy_allow_event {
  struct kdp_event_header header;
  __u32 saddr; /* network byte order */
  __u32 daddr;
  __u16 sport; /* network byte order */
  __u16 dport;
  __u8 protocol;
  __u8 isolated; /* bit 0: source egress isolated, bit 1: destination ingress isolated */
  __u16 reserved;
  __u32 ifindex;
  __u32 reserved2; /* explicit tail padding to 8 bytes */
};

/*
 * kdp_nat: LRU_HASH, source NAT of flows that leave through the node device
 * (masqueraded pod flows, and the node's own flows so that their ports are
 * never handed out twice). Two entries per flow:
 *   KDP_NAT_EGRESS  (original source, remote) -> translated source
 *   KDP_NAT_INGRESS (translated source, remote) -> original source
 * The ingress entry is reserved first (BPF_NOEXIST): it is what makes a port
 * taken. An entry lives as long as the conntrack record of its original
 * tuple; the agent's sweeper removes the pair once that record is gone.
 */
enum kdp_nat_direction {
  KDP_NAT_EGRESS = 0,
  KDP_NAT_INGRESS = 1,
};

struct kdp_nat_key {
  __u32 local_addr;  /* network byte order: pod/node side of the tuple */
  __u32 remote_addr; /* network byte order */
  __u16 local_port;  /* network byte order; ICMP echo: the identifier */
  __u16 remote_port; /* network byte order */
  __u8 protocol;
  __u8 direction; /* kdp_nat_direction */
  __u16 pad;
};

struct kdp_nat_entry {
  __u32 addr;  /* network byte order: the other side of the translation */
  __u16 port;  /* network byte order */
  __u16 flags; /* KDP_NAT_F_* */
  __u64 created_ns;
};

#define KDP_NAT_F_HOST 0x1 /* a flow of the node itself (not masqueraded) */

/* kdp_no_masq: LPM_TRIE, destinations that pods reach with their own address. */
struct kdp_no_masq_key {
  __u32 prefixlen;
  __u32 addr; /* network byte order */
};

/*
 * kdp_sock_rev: LRU_HASH, for host processes that reach a Service over UDP
 * without connecting: a socket's (cookie, backend) -> the Service address
 * its datagrams were sent to, so replies are received from that address.
 */
struct kdp_sock_rev_key {
  __u64 cookie;       /* bpf_get_socket_cookie() */
  __u32 backend;      /* network byte order */
  __u16 backend_port; /* network byte order */
  __u16 pad;
};

struct kdp_sock_rev {
  __u32 vip; /* network byte order */
  __u16 vport;
  __u16 pad;
};

/*
 * Per-node settings, fixed when the programs are loaded (read-only data set
 * through the skeleton before load, so objects are built once).
 */
struct kdp_node_config {
  __u32 pod_cidr;      /* network byte order */
  __u32 pod_cidr_mask; /* network byte order */
  __u32 router_ip;     /* the pods' gateway, network byte order */
  __u32 reserved;
  struct kdp_ct_timeouts ct_timeouts;
  /* The node device (uplink): off-node traffic leaves through it. 0: none,
   * off-node traffic is left to the kernel's routing. */
  __u32 node_ifindex;
  __u32 node_ip;       /* the node's address on it, network byte order */
  __u16 snat_port_min; /* host byte order, inclusive */
  __u16 snat_port_max;
  __u32 reserved3;
  __u32 flags; /* KDP_NODE_F_* */
  __u32 reserved2;
  /* The node's network namespace (SO_NETNS_COOKIE): socket hooks attached to
   * a cgroup act only for sockets of this namespace. 0: none. */
  __u64 netns_cookie;
};

#define KDP_NODE_F_MASQUERADE 0x1 /* pod traffic leaving the cluster takes the node's address */

#endif /* KUBEDP_ABI_H */
