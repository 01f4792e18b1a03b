// Services for the datapath, in two pure steps:
//
//  1. Where no EndpointSlice controller runs (a manifest directory, the lab),
//     DeriveEndpointSlices/WithDerivedEndpointSlices stand in for it and turn
//     Service selectors and Pods into EndpointSlices.
//  2. CompileServices turns Services and their EndpointSlices (given or
//     derived) into a table of frontends (VIP, port, protocol) with every known
//     backend and its conditions; UsableBackends picks the ones that take new
//     connections, as kube-proxy does.
//
// Semantics relied on:
//  - EndpointSlice controller (kubernetes pkg/controller/endpointslice,
//    utils.go podToEndpoint/getEndpointPorts): a Service without a selector,
//    or of type ExternalName, gets no slices from the controller. A pod is an
//    endpoint unless it is terminal (phase Succeeded/Failed) or has no IP;
//    serving = pod Ready, terminating = deletionTimestamp set, ready = serving
//    && !terminating. Each Service port is resolved per pod (podutil.FindPort:
//    a numeric targetPort as is, a named one against the pod's container
//    ports by name and protocol); a port that does not resolve is left out of
//    that pod's port list, and pods are grouped into slices by their port list
//    (one slice has one port list for all its endpoints).
//  - EndpointConditions (discovery.k8s.io/v1 API reference): ready nil means
//    ready ("in most cases consumers should interpret this unknown state as
//    ready"); serving nil means "defer to the ready condition"; terminating
//    nil means not terminating.
//  - kube-proxy: ShouldSkipService skips Services whose clusterIP is "None" or
//    empty and those of type ExternalName, for every frontend kind.
//    EndpointSliceCache matches slice ports to Service ports by (name,
//    protocol), ignores ports without a number, uses an endpoint's first
//    address and deduplicates endpoints by IP:port. CategorizeEndpoints
//    (pkg/proxy/topology.go, KEP-1669 "ProxyTerminatingEndpoints"): new
//    connections go to Ready endpoints; when there are none, to endpoints that
//    are serving and terminating; Local traffic policy first narrows the
//    candidates to the node's own endpoints (and the fallback is per node).
//    ExternalPolicyLocal holds only for externally accessible Services (type
//    NodePort or LoadBalancer, or ClusterIP with externalIPs).
//  - KEP-2086: internalTrafficPolicy applies to traffic to the ClusterIP.
//    externalTrafficPolicy applies to NodePort, LoadBalancer and external IPs
//    when the traffic comes from outside the cluster; kube-proxy sends pod
//    traffic to those addresses through the Cluster policy.
//
// Only IPv4 is programmed: IPv6 cluster/external/LB IPs and slices of address
// type IPv6 or FQDN are skipped without an error.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "k8s/objects.h"

namespace kubedp::control {

// Labels the EndpointSlice controller puts on its slices.
inline constexpr std::string_view kServiceNameLabel = "kubernetes.io/service-name";
inline constexpr std::string_view kManagedByLabel = "endpointslice.kubernetes.io/managed-by";
inline constexpr std::string_view kHeadlessLabel = "service.kubernetes.io/headless";
// managed-by value of the slices derived here.
inline constexpr std::string_view kDerivedManagedBy = "kubedp";

// The EndpointSlices the controller would keep for every Service with a
// selector, in Service key order. Per Service: one slice named
// "<service>-kubedp" when all its endpoints share one port list (or there are
// none: an empty placeholder, as the controller keeps), else one slice per
// distinct port list, "<service>-kubedp-1", "-2", ... in order of the first pod
// (by key) with that list. Endpoints are in pod key order. Address type IPv4,
// from the pod's first IPv4 address. Unlike the controller, slices are not
// split at 100 endpoints.
std::vector<k8s::EndpointSlice> DeriveEndpointSlices(const k8s::ClusterState& state);

// A copy of state where every Service with a selector that has no
// EndpointSlice of its own (same namespace, service name label) gets the
// derived ones. Given slices take precedence and are never replaced.
k8s::ClusterState WithDerivedEndpointSlices(const k8s::ClusterState& state);

enum class FrontendKind { kClusterIP, kNodePort, kLoadBalancer, kExternalIP };

// How a frontend picks the backend of a new connection. kDefault follows the
// agent's --lb-algorithm; the Service annotation kubedp.io/lb-algorithm
// ("random" or "maglev") sets it per Service.
enum class LbAlgorithm { kDefault, kRandom, kMaglev };
inline constexpr std::string_view kLbAlgorithmAnnotation = "kubedp.io/lb-algorithm";

// "ClusterIP", "NodePort", "LoadBalancer", "ExternalIP".
std::string_view FrontendKindName(FrontendKind kind);

struct Backend {
  uint32_t ip = 0;  // host order
  uint16_t port = 0;
  bool ready = false;
  bool serving = false;
  bool terminating = false;
  std::string node_name;
  std::string pod;  // "namespace/name" from the endpoint's targetRef, or empty
  bool operator==(const Backend&) const = default;
};

struct Frontend {
  FrontendKind kind = FrontendKind::kClusterIP;
  uint32_t ip = 0;  // host order; 0 for NodePort, meaning any node address
  uint16_t port = 0;
  uint8_t protocol = 0;  // 6 TCP, 17 UDP, 132 SCTP
  std::string service;   // "namespace/name"
  std::string port_name;
  // externalTrafficPolicy Local applies to external traffic to this frontend
  // (never set on ClusterIP frontends).
  bool external_local = false;
  // internalTrafficPolicy Local applies (only set on ClusterIP frontends).
  bool internal_local = false;
  uint32_t affinity_timeout_seconds = 0;  // 0: no ClientIP session affinity
  LbAlgorithm algorithm = LbAlgorithm::kDefault;
  // Every known backend with its conditions, deduplicated by IP:port and
  // sorted by (ip, port).
  std::vector<Backend> backends;
  bool operator==(const Frontend&) const = default;
};

struct ServiceTable {
  // Services in key order; per Service its cluster IPs, node ports, load
  // balancer IPs then external IPs, each for every Service port in order.
  std::vector<Frontend> frontends;
  // Human sentences naming the object and field: an address that is not
  // IPv4, an unknown protocol, two Services claiming one IP:port/protocol.
  // The offending frontend or backend is left out; the rest is compiled.
  std::vector<std::string> errors;
};

// Compiles the state's Services and EndpointSlices (given or derived: call
// WithDerivedEndpointSlices first where no controller runs). When two
// Services claim the same (ip, port, protocol), the first by key keeps it and
// the other's frontend is dropped with an error naming both, so one bad
// Service never takes another's traffic.
ServiceTable CompileServices(const k8s::ClusterState& state);

// The backends that take NEW connections on node `node`: the Ready ones; if
// none is Ready, the serving and terminating ones. When Local traffic policy
// applies, only backends whose node_name is `node` are candidates (and the
// fallback looks at those only); with no local candidate the result is empty,
// i.e. the traffic is dropped. external_traffic says whether the connection
// comes from outside the cluster: it selects externalTrafficPolicy on
// NodePort/LoadBalancer/ExternalIP frontends, where traffic from pods uses
// the Cluster policy; ClusterIP frontends always follow internalTrafficPolicy.
std::vector<Backend> UsableBackends(const Frontend& frontend, bool external_traffic,
                                    const std::string& node);

}  // namespace kubedp::control
