#include "control/services.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <utility>

#include "common/ip.h"

namespace kubedp::control {
namespace {

using k8s::ClusterState;
using k8s::EndpointSlice;
using k8s::Pod;
using k8s::Service;
using k8s::ServicePort;

constexpr uint8_t kTcp = 6, kUdp = 17, kSctp = 132;

std::string Quote(std::string_view text) {
  return "\"" + std::string(text) + "\"";
}

std::string ProtocolName(uint8_t protocol) {
  switch (protocol) {
    case kTcp:
      return "TCP";
    case kUdp:
      return "UDP";
    case kSctp:
      return "SCTP";
    default:
      return std::to_string(protocol);
  }
}

std::optional<uint8_t> ProtocolNumber(std::string_view name) {
  if (name == "TCP") return kTcp;
  if (name == "UDP") return kUdp;
  if (name == "SCTP") return kSctp;
  return std::nullopt;
}

bool IsIpv6Text(std::string_view text) {
  return text.find(':') != std::string_view::npos;
}

bool ValidPort(int32_t port) {
  return port >= 1 && port <= 65535;
}

// An engaged but empty selector counts as none: the API server drops an empty
// selector when it stores the Service (see k8s/decode.cc).
bool HasSelector(const Service& svc) {
  return svc.selector.has_value() && !svc.selector->empty();
}

// kube-proxy's helper.IsServiceIPSet: a clusterIP that is neither "None" nor
// empty.
bool IsServiceIpSet(const Service& svc) {
  return !svc.cluster_ip.empty() && svc.cluster_ip != "None";
}

// The service a slice belongs to: the decoded field, else the label (slices
// built in code may carry only one of them).
std::string SliceServiceName(const EndpointSlice& slice) {
  if (!slice.service_name.empty()) return slice.service_name;
  auto it = slice.meta.labels.find(std::string(kServiceNameLabel));
  return it == slice.meta.labels.end() ? std::string() : it->second;
}

// ---------------------------------------------------------------------------
// EndpointSlice derivation

bool SelectorMatches(const k8s::Labels& selector, const k8s::Labels& labels) {
  for (const auto& [key, value] : selector) {
    auto it = labels.find(key);
    if (it == labels.end() || it->second != value) return false;
  }
  return true;
}

// The pod's first IPv4 address (podIPs keeps podIP first), or empty.
std::string PodIpv4(const Pod& pod) {
  for (const std::string& ip : pod.pod_ips) {
    if (!ip.empty() && !IsIpv6Text(ip)) return ip;
  }
  if (!pod.pod_ip.empty() && !IsIpv6Text(pod.pod_ip)) return pod.pod_ip;
  return {};
}

// The controller's ShouldPodBeInEndpoints with terminating pods included: not
// terminal and has an IP. Pod carries no deletionTimestamp, so no pod is seen
// as terminating here.
bool ShouldBeEndpoint(const Pod& pod) {
  if (pod.phase == "Succeeded" || pod.phase == "Failed") return false;
  return !PodIpv4(pod).empty();
}

// podutil.FindPort: a numeric targetPort as is; a named one is the first
// container port with that name and the Service port's protocol.
std::optional<int32_t> ResolveTargetPort(const Pod& pod, const ServicePort& port) {
  const k8s::IntOrString& target = port.target_port;
  if (target.number.has_value()) {
    if (!ValidPort(*target.number)) return std::nullopt;
    return *target.number;
  }
  if (target.name.empty()) return ValidPort(port.port) ? std::optional(port.port) : std::nullopt;
  for (const k8s::ContainerPort& container : pod.ports) {
    if (container.name == target.name && container.protocol == port.protocol &&
        ValidPort(container.port)) {
      return container.port;
    }
  }
  return std::nullopt;
}

// The pod's port list for the Service. As in the controller's
// getEndpointPorts, a Service port that does not resolve for this pod is left
// out of the list rather than keeping the pod out of the Service: the pod then
// lands in a slice without that port, so it serves the ports it has.
std::vector<k8s::EndpointPort> PodEndpointPorts(const Service& svc, const Pod& pod) {
  std::vector<k8s::EndpointPort> ports;
  for (const ServicePort& port : svc.ports) {
    std::optional<int32_t> number = ResolveTargetPort(pod, port);
    if (!number.has_value()) continue;
    ports.push_back({.name = port.name, .protocol = port.protocol, .port = *number});
  }
  return ports;
}

using PortListKey = std::vector<std::tuple<std::string, std::string, int32_t>>;

PortListKey KeyOf(const std::vector<k8s::EndpointPort>& ports) {
  PortListKey key;
  for (const auto& port : ports) key.emplace_back(port.name, port.protocol, port.port.value_or(0));
  return key;
}

EndpointSlice NewSlice(const Service& svc, std::string name, std::vector<k8s::EndpointPort> ports) {
  EndpointSlice slice;
  slice.meta.name = std::move(name);
  slice.meta.namespace_ = svc.meta.namespace_;
  slice.meta.labels[std::string(kServiceNameLabel)] = svc.meta.name;
  slice.meta.labels[std::string(kManagedByLabel)] = std::string(kDerivedManagedBy);
  if (!IsServiceIpSet(svc)) slice.meta.labels[std::string(kHeadlessLabel)] = "";
  slice.service_name = svc.meta.name;
  slice.address_type = "IPv4";
  slice.ports = std::move(ports);
  return slice;
}

std::vector<EndpointSlice> DeriveForService(const ClusterState& state, const Service& svc) {
  struct Group {
    std::vector<k8s::EndpointPort> ports;
    std::vector<k8s::Endpoint> endpoints;
  };
  std::vector<Group> groups;  // in order of the first pod of each port list
  std::map<PortListKey, size_t> group_of;
  for (const auto& [key, pod] : state.pods) {
    if (pod.meta.namespace_ != svc.meta.namespace_) continue;
    if (!SelectorMatches(*svc.selector, pod.meta.labels) || !ShouldBeEndpoint(pod)) continue;
    std::vector<k8s::EndpointPort> ports = PodEndpointPorts(svc, pod);
    auto [it, inserted] = group_of.try_emplace(KeyOf(ports), groups.size());
    if (inserted) groups.push_back({.ports = std::move(ports), .endpoints = {}});
    k8s::Endpoint endpoint;
    endpoint.addresses = {PodIpv4(pod)};
    // podToEndpoint: serving = pod Ready, terminating = deletionTimestamp set
    // (never, here), ready = serving && !terminating.
    endpoint.conditions.ready = pod.ready;
    endpoint.conditions.serving = pod.ready;
    endpoint.conditions.terminating = false;
    endpoint.node_name = pod.node_name;
    endpoint.target_namespace = pod.meta.namespace_;
    endpoint.target_name = pod.meta.name;
    groups[it->second].endpoints.push_back(std::move(endpoint));
  }

  std::string base = svc.meta.name + "-kubedp";
  std::vector<EndpointSlice> slices;
  if (groups.empty()) {
    // The controller keeps an empty placeholder slice (no ports, no endpoints)
    // for a Service that selects nothing.
    slices.push_back(NewSlice(svc, base, {}));
    return slices;
  }
  for (size_t i = 0; i < groups.size(); ++i) {
    std::string name = groups.size() == 1 ? base : base + "-" + std::to_string(i + 1);
    EndpointSlice slice = NewSlice(svc, std::move(name), std::move(groups[i].ports));
    slice.endpoints = std::move(groups[i].endpoints);
    slices.push_back(std::move(slice));
  }
  return slices;
}

bool DerivesSlices(const Service& svc) {
  return HasSelector(svc) && svc.type != "ExternalName";
}

// ---------------------------------------------------------------------------
// Service table

struct ParsedEndpoint {
  uint32_t ip = 0;
  bool ready = false, serving = false, terminating = false;
  std::string node_name;
  std::string pod;
};

struct ParsedSlice {
  const EndpointSlice* slice = nullptr;
  std::vector<ParsedEndpoint> endpoints;
};

// EndpointConditions as the API reference says to read them: ready nil is
// ready, serving nil defers to ready, terminating nil is not terminating.
// (kube-proxy reads serving nil as true; the two differ only for an endpoint
// with ready=false, no serving and terminating=true.)
ParsedEndpoint ParseConditions(const k8s::Endpoint& endpoint) {
  ParsedEndpoint parsed;
  parsed.ready = endpoint.conditions.ready.value_or(true);
  parsed.serving = endpoint.conditions.serving.value_or(parsed.ready);
  parsed.terminating = endpoint.conditions.terminating.value_or(false);
  parsed.node_name = endpoint.node_name;
  return parsed;
}

// Parses every IPv4 slice once, so a bad address is reported once however
// many Service ports use the slice. Keyed by "namespace/service"; slices in
// key order.
std::map<std::string, std::vector<ParsedSlice>> ParseSlices(const ClusterState& state,
                                                            std::vector<std::string>* errors) {
  std::map<std::string, std::vector<ParsedSlice>> by_service;
  for (const auto& [key, slice] : state.endpoint_slices) {
    std::string service = SliceServiceName(slice);
    if (service.empty()) continue;  // not tied to a Service: kube-proxy ignores it
    if (!slice.address_type.empty() && slice.address_type != "IPv4") continue;
    ParsedSlice parsed{.slice = &slice, .endpoints = {}};
    for (size_t i = 0; i < slice.endpoints.size(); ++i) {
      const k8s::Endpoint& endpoint = slice.endpoints[i];
      if (endpoint.addresses.empty()) continue;
      // kube-proxy uses an endpoint's first address only.
      Result<uint32_t> ip = ParseIpv4(endpoint.addresses[0]);
      if (!ip.ok()) {
        errors->push_back("EndpointSlice " + key + ": endpoints[" + std::to_string(i) +
                          "].addresses[0] " + Quote(endpoint.addresses[0]) +
                          " is not an IPv4 address; endpoint left out");
        continue;
      }
      ParsedEndpoint one = ParseConditions(endpoint);
      one.ip = *ip;
      if (!endpoint.target_name.empty()) {
        std::string ns =
            endpoint.target_namespace.empty() ? slice.meta.namespace_ : endpoint.target_namespace;
        one.pod = ns + "/" + endpoint.target_name;
      }
      parsed.endpoints.push_back(std::move(one));
    }
    by_service[slice.meta.namespace_ + "/" + service].push_back(std::move(parsed));
  }
  return by_service;
}

// The backends of one Service port: the endpoints of every slice port with the
// same name and protocol (kube-proxy's ServicePortName), first one of each
// IP:port kept, sorted by (ip, port).
std::vector<Backend> BackendsFor(const std::vector<ParsedSlice>* slices, const ServicePort& port) {
  std::vector<Backend> backends;
  if (slices == nullptr) return backends;
  std::set<std::pair<uint32_t, uint16_t>> seen;
  for (const ParsedSlice& parsed : *slices) {
    for (const k8s::EndpointPort& slice_port : parsed.slice->ports) {
      if (slice_port.name != port.name || slice_port.protocol != port.protocol) continue;
      // kube-proxy ignores a port without a number.
      if (!slice_port.port.has_value() || !ValidPort(*slice_port.port)) continue;
      auto number = static_cast<uint16_t>(*slice_port.port);
      for (const ParsedEndpoint& endpoint : parsed.endpoints) {
        if (!seen.insert({endpoint.ip, number}).second) continue;
        backends.push_back({.ip = endpoint.ip,
                            .port = number,
                            .ready = endpoint.ready,
                            .serving = endpoint.serving,
                            .terminating = endpoint.terminating,
                            .node_name = endpoint.node_name,
                            .pod = endpoint.pod});
      }
    }
  }
  std::sort(backends.begin(), backends.end(), [](const Backend& a, const Backend& b) {
    return std::tie(a.ip, a.port) < std::tie(b.ip, b.port);
  });
  return backends;
}

// One address of a Service that frontends are made for.
struct ServiceAddress {
  FrontendKind kind;
  uint32_t ip;
};

// The Service's IPv4 addresses by kind, bad ones reported. IPv6 ones are
// skipped: only IPv4 is programmed.
std::vector<ServiceAddress> ServiceAddresses(const std::string& key, const Service& svc,
                                             std::vector<std::string>* errors) {
  std::vector<ServiceAddress> addresses;
  auto add = [&](FrontendKind kind, const std::string& field, const std::string& text) {
    if (IsIpv6Text(text)) return;
    Result<uint32_t> ip = ParseIpv4(text);
    if (!ip.ok()) {
      errors->push_back("Service " + key + ": " + field + " " + Quote(text) +
                        " is not an IPv4 address; not programmed");
      return;
    }
    addresses.push_back({kind, *ip});
  };
  auto indexed = [](const std::string& field, size_t i) {
    return field + "[" + std::to_string(i) + "]";
  };
  if (svc.cluster_ips.empty()) add(FrontendKind::kClusterIP, "spec.clusterIP", svc.cluster_ip);
  for (size_t i = 0; i < svc.cluster_ips.size(); ++i) {
    add(FrontendKind::kClusterIP, indexed("spec.clusterIPs", i), svc.cluster_ips[i]);
  }
  if (svc.type == "NodePort" || svc.type == "LoadBalancer") {
    addresses.push_back({FrontendKind::kNodePort, 0});
  }
  for (size_t i = 0; i < svc.load_balancer_ips.size(); ++i) {
    add(FrontendKind::kLoadBalancer, indexed("status.loadBalancer.ingress", i) + ".ip",
        svc.load_balancer_ips[i]);
  }
  for (size_t i = 0; i < svc.external_ips.size(); ++i) {
    add(FrontendKind::kExternalIP, indexed("spec.externalIPs", i), svc.external_ips[i]);
  }
  return addresses;
}

// kube-proxy's ExternallyAccessible && externalTrafficPolicy Local.
bool ExternalPolicyLocal(const Service& svc) {
  bool accessible = svc.type == "LoadBalancer" || svc.type == "NodePort" ||
                    (svc.type == "ClusterIP" && !svc.external_ips.empty());
  return accessible && svc.external_traffic_policy == "Local";
}

std::string Describe(const Frontend& frontend) {
  std::string address = frontend.kind == FrontendKind::kNodePort
                            ? std::to_string(frontend.port)
                            : FormatIpv4(frontend.ip) + ":" + std::to_string(frontend.port);
  return std::string(FrontendKindName(frontend.kind)) + " " + address + "/" +
         ProtocolName(frontend.protocol);
}

}  // namespace

std::vector<k8s::EndpointSlice> DeriveEndpointSlices(const k8s::ClusterState& state) {
  std::vector<EndpointSlice> slices;
  for (const auto& [key, svc] : state.services) {
    if (!DerivesSlices(svc)) continue;
    for (EndpointSlice& slice : DeriveForService(state, svc)) slices.push_back(std::move(slice));
  }
  return slices;
}

k8s::ClusterState WithDerivedEndpointSlices(const k8s::ClusterState& state) {
  ClusterState out = state;
  std::set<std::string> served;  // "namespace/service" of every given slice
  for (const auto& [key, slice] : state.endpoint_slices) {
    std::string service = SliceServiceName(slice);
    if (!service.empty()) served.insert(slice.meta.namespace_ + "/" + service);
  }
  for (const auto& [key, svc] : state.services) {
    if (!DerivesSlices(svc) || served.contains(key)) continue;
    for (EndpointSlice& slice : DeriveForService(state, svc)) {
      std::string slice_key = slice.meta.Key();
      // A given slice that happens to have the derived name (but belongs to
      // another Service) is kept.
      out.endpoint_slices.try_emplace(std::move(slice_key), std::move(slice));
    }
  }
  return out;
}

std::string_view FrontendKindName(FrontendKind kind) {
  switch (kind) {
    case FrontendKind::kClusterIP:
      return "ClusterIP";
    case FrontendKind::kNodePort:
      return "NodePort";
    case FrontendKind::kLoadBalancer:
      return "LoadBalancer";
    case FrontendKind::kExternalIP:
      return "ExternalIP";
  }
  return "unknown";
}

ServiceTable CompileServices(const k8s::ClusterState& state) {
  ServiceTable table;
  std::map<std::string, std::vector<ParsedSlice>> slices = ParseSlices(state, &table.errors);
  // (ip, port, protocol) -> index of the frontend that holds it.
  std::map<std::tuple<uint32_t, uint16_t, uint8_t>, size_t> claimed;

  for (const auto& [key, svc] : state.services) {
    // kube-proxy's ShouldSkipService: headless (or unallocated) clusterIP and
    // ExternalName Services are not proxied at all.
    if (!IsServiceIpSet(svc) || svc.type == "ExternalName") continue;
    std::vector<ServiceAddress> addresses = ServiceAddresses(key, svc, &table.errors);
    auto it = slices.find(key);
    const std::vector<ParsedSlice>* service_slices = it == slices.end() ? nullptr : &it->second;
    bool external_local = ExternalPolicyLocal(svc);
    bool internal_local = svc.internal_traffic_policy == "Local";
    uint32_t affinity = 0;
    if (svc.session_affinity == "ClientIP") {
      // The API default (10800 s) when a Service built in code leaves it unset.
      affinity = svc.affinity_timeout_seconds > 0
                     ? static_cast<uint32_t>(svc.affinity_timeout_seconds)
                     : 10800u;
    }

    LbAlgorithm algorithm = LbAlgorithm::kDefault;
    if (auto a = svc.meta.annotations.find(std::string(kLbAlgorithmAnnotation));
        a != svc.meta.annotations.end()) {
      if (a->second == "maglev") {
        algorithm = LbAlgorithm::kMaglev;
      } else if (a->second == "random") {
        algorithm = LbAlgorithm::kRandom;
      } else {
        table.errors.push_back("Service " + key + ": annotation " +
                               std::string(kLbAlgorithmAnnotation) + " " + Quote(a->second) +
                               " is not random or maglev; the node's default applies");
      }
    }

    // Per port: its protocol number and backends, or nullopt when invalid.
    std::vector<std::optional<uint8_t>> protocols;
    std::vector<std::vector<Backend>> backends;
    for (size_t i = 0; i < svc.ports.size(); ++i) {
      const ServicePort& port = svc.ports[i];
      std::string where = "Service " + key + ": spec.ports[" + std::to_string(i) + "]";
      std::optional<uint8_t> protocol = ProtocolNumber(port.protocol);
      if (!protocol.has_value()) {
        table.errors.push_back(where + ".protocol " + Quote(port.protocol) +
                               " is not TCP, UDP or SCTP; port not programmed");
      } else if (!ValidPort(port.port)) {
        table.errors.push_back(where + ".port " + std::to_string(port.port) +
                               " is not in 1-65535; port not programmed");
        protocol.reset();
      }
      protocols.push_back(protocol);
      backends.push_back(protocol.has_value() ? BackendsFor(service_slices, port)
                                              : std::vector<Backend>{});
    }

    for (const ServiceAddress& address : addresses) {
      for (size_t i = 0; i < svc.ports.size(); ++i) {
        if (!protocols[i].has_value()) continue;
        const ServicePort& port = svc.ports[i];
        Frontend frontend;
        frontend.kind = address.kind;
        frontend.ip = address.ip;
        if (address.kind == FrontendKind::kNodePort) {
          if (port.node_port == 0) continue;  // this port has no node port
          if (!ValidPort(port.node_port)) {
            table.errors.push_back("Service " + key + ": spec.ports[" + std::to_string(i) +
                                   "].nodePort " + std::to_string(port.node_port) +
                                   " is not in 1-65535; not programmed");
            continue;
          }
          frontend.port = static_cast<uint16_t>(port.node_port);
        } else {
          frontend.port = static_cast<uint16_t>(port.port);
        }
        frontend.protocol = *protocols[i];
        frontend.service = key;
        frontend.port_name = port.name;
        if (address.kind == FrontendKind::kClusterIP) {
          frontend.internal_local = internal_local;
        } else {
          frontend.external_local = external_local;
        }
        frontend.affinity_timeout_seconds = affinity;
        frontend.algorithm = algorithm;
        frontend.backends = backends[i];

        auto [slot, inserted] = claimed.try_emplace(
            std::tuple(frontend.ip, frontend.port, frontend.protocol), table.frontends.size());
        if (!inserted) {
          const Frontend& holder = table.frontends[slot->second];
          // The same Service port reached twice (say an external IP that is
          // also its load balancer IP) is one frontend, not a conflict.
          if (holder.service == key && holder.port_name == port.name) continue;
          table.errors.push_back("Service " + key + " port " + Quote(port.name) + ": " +
                                 Describe(frontend) + " is already taken by Service " +
                                 holder.service + " port " + Quote(holder.port_name) + " (" +
                                 Describe(holder) + "); " + key + " does not get it");
          continue;
        }
        table.frontends.push_back(std::move(frontend));
      }
    }
  }
  return table;
}

std::vector<Backend> UsableBackends(const Frontend& frontend, bool external_traffic,
                                    const std::string& node) {
  bool local = frontend.kind == FrontendKind::kClusterIP
                   ? frontend.internal_local
                   : (external_traffic ? frontend.external_local : frontend.internal_local);
  auto candidate = [&](const Backend& backend) {
    // As kube-proxy's isLocal: an empty node name is never local.
    return !local || (!node.empty() && backend.node_name == node);
  };
  std::vector<Backend> usable;
  for (const Backend& backend : frontend.backends) {
    if (candidate(backend) && backend.ready) usable.push_back(backend);
  }
  if (!usable.empty()) return usable;
  // KEP-1669: no Ready candidate, so fall back to the serving terminating ones
  // rather than drop the traffic.
  for (const Backend& backend : frontend.backends) {
    if (candidate(backend) && backend.serving && backend.terminating) usable.push_back(backend);
  }
  return usable;
}

}  // namespace kubedp::control
