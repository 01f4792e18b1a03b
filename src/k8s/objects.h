// Typed, value-semantic views of the Kubernetes objects a node dataplane acts
// on. Only the fields kubedp reads are kept; decode.h fills them in with the
// API server's defaults applied, so consumers never re-implement defaulting.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace kubedp::k8s {

using Labels = std::map<std::string, std::string>;

struct ObjectMeta {
  std::string name;
  std::string namespace_;  // empty for cluster-scoped kinds
  std::string uid;
  Labels labels;
  Labels annotations;

  // "namespace/name", or "name" for cluster-scoped objects.
  std::string Key() const;
  bool operator==(const ObjectMeta&) const = default;
};

struct LabelRequirement {
  enum class Operator { kIn, kNotIn, kExists, kDoesNotExist };
  std::string key;
  Operator op = Operator::kExists;
  std::vector<std::string> values;

  bool Matches(const Labels& labels) const;
  bool operator==(const LabelRequirement&) const = default;
};

// metav1.LabelSelector: match_labels and every requirement are ANDed, and an
// empty selector matches everything.
struct LabelSelector {
  Labels match_labels;
  std::vector<LabelRequirement> match_expressions;

  bool Matches(const Labels& labels) const;
  bool Empty() const { return match_labels.empty() && match_expressions.empty(); }
  bool operator==(const LabelSelector&) const = default;
};

struct Namespace {
  ObjectMeta meta;
  bool operator==(const Namespace&) const = default;
};

struct ContainerPort {
  std::string name;
  int32_t port = 0;
  std::string protocol = "TCP";
  bool operator==(const ContainerPort&) const = default;
};

struct Pod {
  ObjectMeta meta;
  std::string node_name;
  bool host_network = false;
  std::vector<ContainerPort> ports;  // every container's ports, in order
  std::string phase;
  std::string pod_ip;
  std::vector<std::string> pod_ips;
  bool ready = false;  // status.conditions[type=Ready].status == "True"
  bool operator==(const Pod&) const = default;
};

// A port given either as a number or as a container port name.
struct IntOrString {
  std::optional<int32_t> number;
  std::string name;

  bool IsSet() const { return number.has_value() || !name.empty(); }
  std::string ToString() const;
  bool operator==(const IntOrString&) const = default;
};

struct ServicePort {
  std::string name;
  std::string protocol = "TCP";
  int32_t port = 0;
  IntOrString target_port;  // defaults to port when absent
  int32_t node_port = 0;    // 0 when unset
  std::string app_protocol;
  bool operator==(const ServicePort&) const = default;
};

struct Service {
  ObjectMeta meta;
  std::string type = "ClusterIP";
  std::string cluster_ip;
  std::vector<std::string> cluster_ips;
  std::vector<ServicePort> ports;
  // nullopt when the service has no selector (its endpoints are managed by
  // hand), which is different from a selector that matches every pod.
  std::optional<Labels> selector;
  std::vector<std::string> external_ips;
  std::vector<std::string> load_balancer_ips;  // status.loadBalancer.ingress[].ip
  std::string session_affinity = "None";
  int32_t affinity_timeout_seconds = 10800;
  std::string external_traffic_policy = "Cluster";
  std::string internal_traffic_policy = "Cluster";

  bool Headless() const { return cluster_ip == "None"; }
  bool operator==(const Service&) const = default;
};

struct EndpointConditions {
  std::optional<bool> ready;
  std::optional<bool> serving;
  std::optional<bool> terminating;
  bool operator==(const EndpointConditions&) const = default;
};

struct Endpoint {
  std::vector<std::string> addresses;
  EndpointConditions conditions;
  std::string node_name;
  std::string target_namespace;  // targetRef.namespace
  std::string target_name;       // targetRef.name
  bool operator==(const Endpoint&) const = default;
};

struct EndpointPort {
  std::string name;
  std::string protocol = "TCP";
  std::optional<int32_t> port;
  bool operator==(const EndpointPort&) const = default;
};

struct EndpointSlice {
  ObjectMeta meta;
  std::string service_name;  // label kubernetes.io/service-name
  std::string address_type;  // IPv4, IPv6 or FQDN
  std::vector<Endpoint> endpoints;
  std::vector<EndpointPort> ports;
  bool operator==(const EndpointSlice&) const = default;
};

struct IpBlock {
  std::string cidr;
  std::vector<std::string> except;
  bool operator==(const IpBlock&) const = default;
};

// One from/to entry. As in the API, an engaged but empty selector selects
// everything, while a disengaged one does not take part in matching.
struct PolicyPeer {
  std::optional<LabelSelector> pod_selector;
  std::optional<LabelSelector> namespace_selector;
  std::optional<IpBlock> ip_block;
  bool operator==(const PolicyPeer&) const = default;
};

struct PolicyPort {
  std::string protocol = "TCP";
  std::optional<IntOrString> port;  // nullopt: every port of the protocol
  std::optional<int32_t> end_port;  // only with a numeric port
  bool operator==(const PolicyPort&) const = default;
};

// One ingress (from) or egress (to) rule.
struct PolicyRule {
  std::vector<PolicyPeer> peers;  // empty: every peer
  std::vector<PolicyPort> ports;  // empty: every port
  bool operator==(const PolicyRule&) const = default;
};

struct NetworkPolicy {
  ObjectMeta meta;
  LabelSelector pod_selector;
  std::vector<PolicyRule> ingress;
  std::vector<PolicyRule> egress;
  // spec.policyTypes after API defaulting (see decode.cc).
  bool affects_ingress = true;
  bool affects_egress = false;
  bool operator==(const NetworkPolicy&) const = default;
};

struct Node {
  ObjectMeta meta;
  // spec.podCIDR then spec.podCIDRs, without duplicates.
  std::vector<std::string> pod_cidrs;
  // status.addresses as (type, address), e.g. ("InternalIP", "10.0.0.4").
  std::vector<std::pair<std::string, std::string>> addresses;
  bool operator==(const Node&) const = default;
};

struct ConfigMap {
  ObjectMeta meta;
  std::map<std::string, std::string> data;
  bool operator==(const ConfigMap&) const = default;
};

using Object = std::variant<Namespace, Pod, Service, EndpointSlice, NetworkPolicy, Node, ConfigMap>;

// The API kind name: "Pod", "EndpointSlice", ...
std::string_view KindOf(const Object& object);
const ObjectMeta& MetaOf(const Object& object);
ObjectMeta& MetaOf(Object& object);
// Whether objects of this kind live in a namespace.
bool IsNamespaced(const Object& object);

// Everything kubedp knows about the cluster, one map per kind keyed by
// ObjectMeta::Key(). Ordered maps keep iteration (and so generated
// datapath state) deterministic.
struct ClusterState {
  std::map<std::string, Namespace> namespaces;
  std::map<std::string, Pod> pods;
  std::map<std::string, Service> services;
  std::map<std::string, EndpointSlice> endpoint_slices;
  std::map<std::string, NetworkPolicy> network_policies;
  std::map<std::string, Node> nodes;
  std::map<std::string, ConfigMap> config_maps;

  // Inserts the object, replacing any earlier one of the same kind and key.
  // Namespaced objects without a namespace are put in "default".
  void Add(Object object);
  // Whether an object of that kind and key is present.
  bool Contains(std::string_view kind, const std::string& key) const;
  size_t Size() const;
  bool operator==(const ClusterState&) const = default;
};

}  // namespace kubedp::k8s
