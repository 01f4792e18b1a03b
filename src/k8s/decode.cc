#include "k8s/decode.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "k8s/cidr.h"
#include "k8s/field.h"
#include "k8s/yaml_json.h"

namespace kubedp::k8s {
namespace {

// ---------------------------------------------------------------------------
// Shared sub-objects.

Status ReadCidr(const Field& f, std::string* out, std::optional<Cidr>* parsed) {
  KUBEDP_RETURN_IF_ERROR(ReadRequiredString(f, out));
  *parsed = ParseCidr(*out);
  if (!parsed->has_value()) return f.Fail("not a valid IPv4 or IPv6 CIDR: " + Quote(*out));
  return Status::Ok();
}

Status DecodeMeta(const Field& f, bool namespaced, ObjectMeta* meta) {
  KUBEDP_RETURN_IF_ERROR(ExpectMap(f));
  KUBEDP_RETURN_IF_ERROR(ReadRequiredString(f["name"], &meta->name));
  KUBEDP_RETURN_IF_ERROR(ReadString(f["namespace"], &meta->namespace_));
  // The API server ignores metadata.namespace on cluster-scoped kinds.
  if (!namespaced) meta->namespace_.clear();
  if (namespaced && meta->namespace_.empty()) meta->namespace_ = "default";
  KUBEDP_RETURN_IF_ERROR(ReadString(f["uid"], &meta->uid));
  KUBEDP_RETURN_IF_ERROR(ReadStringMap(f["labels"], &meta->labels));
  return ReadStringMap(f["annotations"], &meta->annotations);
}

Status ParseOperator(const Field& f, const std::string& text, LabelRequirement::Operator* op) {
  using Op = LabelRequirement::Operator;
  static const std::map<std::string, Op> kOperators = {{"In", Op::kIn},
                                                       {"NotIn", Op::kNotIn},
                                                       {"Exists", Op::kExists},
                                                       {"DoesNotExist", Op::kDoesNotExist}};
  auto it = kOperators.find(text);
  if (it == kOperators.end()) {
    return f.Fail("must be one of In, NotIn, Exists, DoesNotExist, got " + Quote(text));
  }
  *op = it->second;
  return Status::Ok();
}

Status DecodeRequirement(const Field& f, LabelRequirement* req) {
  KUBEDP_RETURN_IF_ERROR(ExpectMap(f));
  KUBEDP_RETURN_IF_ERROR(ReadRequiredString(f["key"], &req->key));
  std::string op;
  KUBEDP_RETURN_IF_ERROR(ReadRequiredString(f["operator"], &op));
  KUBEDP_RETURN_IF_ERROR(ParseOperator(f["operator"], op, &req->op));
  KUBEDP_RETURN_IF_ERROR(ReadStringList(f["values"], &req->values));
  // Same rule as metav1: set operators need values, existence operators none.
  bool set_op =
      req->op == LabelRequirement::Operator::kIn || req->op == LabelRequirement::Operator::kNotIn;
  if (set_op && req->values.empty()) {
    return f["values"].Fail("must be non-empty for operator " + op);
  }
  if (!set_op && !req->values.empty()) return f["values"].Fail("must be empty for operator " + op);
  return Status::Ok();
}

Status DecodeSelector(const Field& f, LabelSelector* selector) {
  KUBEDP_RETURN_IF_ERROR(ExpectMap(f));
  KUBEDP_RETURN_IF_ERROR(ReadStringMap(f["matchLabels"], &selector->match_labels));
  return ForEach(f["matchExpressions"], [selector](const Field& item) {
    LabelRequirement req;
    KUBEDP_RETURN_IF_ERROR(DecodeRequirement(item, &req));
    selector->match_expressions.push_back(std::move(req));
    return Status::Ok();
  });
}

Status DecodeOptionalSelector(const Field& f, std::optional<LabelSelector>* selector) {
  if (!f.Present()) return Status::Ok();
  selector->emplace();
  return DecodeSelector(f, &**selector);
}

// ---------------------------------------------------------------------------
// Pod

Status DecodeContainerPorts(const Field& container, std::vector<ContainerPort>* out) {
  KUBEDP_RETURN_IF_ERROR(ExpectMap(container));
  return ForEach(container["ports"], [out](const Field& f) {
    ContainerPort port;
    KUBEDP_RETURN_IF_ERROR(ExpectMap(f));
    KUBEDP_RETURN_IF_ERROR(ReadString(f["name"], &port.name));
    KUBEDP_RETURN_IF_ERROR(ReadRequiredPort(f["containerPort"], &port.port));
    KUBEDP_RETURN_IF_ERROR(ReadProtocol(f["protocol"], &port.protocol));
    out->push_back(std::move(port));
    return Status::Ok();
  });
}

Status DecodePodConditions(const Field& f, bool* ready) {
  return ForEach(f, [ready](const Field& condition) {
    std::string type, status;
    KUBEDP_RETURN_IF_ERROR(ExpectMap(condition));
    KUBEDP_RETURN_IF_ERROR(ReadString(condition["type"], &type));
    KUBEDP_RETURN_IF_ERROR(ReadString(condition["status"], &status));
    if (type == "Ready") *ready = status == "True";
    return Status::Ok();
  });
}

Status DecodePodStatus(const Field& f, Pod* pod) {
  KUBEDP_RETURN_IF_ERROR(ExpectMap(f));
  KUBEDP_RETURN_IF_ERROR(ReadString(f["phase"], &pod->phase));
  KUBEDP_RETURN_IF_ERROR(ReadString(f["podIP"], &pod->pod_ip));
  KUBEDP_RETURN_IF_ERROR(ForEach(f["podIPs"], [pod](const Field& item) {
    std::string ip;
    KUBEDP_RETURN_IF_ERROR(ExpectMap(item));
    KUBEDP_RETURN_IF_ERROR(ReadRequiredString(item["ip"], &ip));
    pod->pod_ips.push_back(std::move(ip));
    return Status::Ok();
  }));
  // The API keeps podIP == podIPs[0]; hand-written manifests often set only
  // one of them, so fill in the other.
  if (pod->pod_ips.empty() && !pod->pod_ip.empty()) pod->pod_ips.push_back(pod->pod_ip);
  if (pod->pod_ip.empty() && !pod->pod_ips.empty()) pod->pod_ip = pod->pod_ips.front();
  return DecodePodConditions(f["conditions"], &pod->ready);
}

Status DecodePod(const Field& root, Pod* pod) {
  Field spec = root["spec"];
  KUBEDP_RETURN_IF_ERROR(ExpectMap(spec));
  KUBEDP_RETURN_IF_ERROR(ReadString(spec["nodeName"], &pod->node_name));
  KUBEDP_RETURN_IF_ERROR(ReadBool(spec["hostNetwork"], &pod->host_network));
  // Only regular containers: they are what Service targetPort names resolve
  // against.
  KUBEDP_RETURN_IF_ERROR(ForEach(spec["containers"], [pod](const Field& container) {
    return DecodeContainerPorts(container, &pod->ports);
  }));
  return DecodePodStatus(root["status"], pod);
}

// ---------------------------------------------------------------------------
// Service

Status DecodeServicePort(const Field& f, ServicePort* port) {
  KUBEDP_RETURN_IF_ERROR(ExpectMap(f));
  KUBEDP_RETURN_IF_ERROR(ReadString(f["name"], &port->name));
  KUBEDP_RETURN_IF_ERROR(ReadProtocol(f["protocol"], &port->protocol));
  KUBEDP_RETURN_IF_ERROR(ReadRequiredPort(f["port"], &port->port));
  std::optional<IntOrString> target;
  KUBEDP_RETURN_IF_ERROR(ReadPortRef(f["targetPort"], &target));
  port->target_port = target.value_or(IntOrString{.number = port->port});
  KUBEDP_RETURN_IF_ERROR(ReadInt32(f["nodePort"], &port->node_port));
  if (port->node_port != 0) {
    KUBEDP_RETURN_IF_ERROR(CheckRange(f["nodePort"], port->node_port, 1, 65535));
  }
  return ReadString(f["appProtocol"], &port->app_protocol);
}

Status DecodeClusterIPs(const Field& spec, Service* svc) {
  KUBEDP_RETURN_IF_ERROR(ReadString(spec["clusterIP"], &svc->cluster_ip));
  KUBEDP_RETURN_IF_ERROR(ReadStringList(spec["clusterIPs"], &svc->cluster_ips));
  // The API keeps clusterIP == clusterIPs[0] and fills in whichever is
  // missing; do the same so consumers can read either.
  if (svc->cluster_ips.empty() && !svc->cluster_ip.empty()) {
    svc->cluster_ips.push_back(svc->cluster_ip);
  }
  if (svc->cluster_ip.empty() && !svc->cluster_ips.empty()) svc->cluster_ip = svc->cluster_ips[0];
  if (!svc->cluster_ips.empty() && svc->cluster_ips[0] != svc->cluster_ip) {
    return spec["clusterIPs"].At(0).Fail("must equal spec.clusterIP " + Quote(svc->cluster_ip) +
                                         ", got " + Quote(svc->cluster_ips[0]));
  }
  return Status::Ok();
}

Status DecodeSessionAffinity(const Field& spec, Service* svc) {
  KUBEDP_RETURN_IF_ERROR(
      ReadOneOf(spec["sessionAffinity"], {"None", "ClientIP"}, &svc->session_affinity));
  Field config = spec["sessionAffinityConfig"];
  KUBEDP_RETURN_IF_ERROR(ExpectMap(config));
  KUBEDP_RETURN_IF_ERROR(ExpectMap(config["clientIP"]));
  Field timeout = config["clientIP"]["timeoutSeconds"];
  KUBEDP_RETURN_IF_ERROR(ReadInt32(timeout, &svc->affinity_timeout_seconds));
  return CheckRange(timeout, svc->affinity_timeout_seconds, 1, 86400);
}

Status DecodeLoadBalancerStatus(const Field& status, Service* svc) {
  KUBEDP_RETURN_IF_ERROR(ExpectMap(status));
  Field lb = status["loadBalancer"];
  KUBEDP_RETURN_IF_ERROR(ExpectMap(lb));
  return ForEach(lb["ingress"], [svc](const Field& ingress) {
    std::string ip;  // hostname-only ingress points have no IP to program
    KUBEDP_RETURN_IF_ERROR(ExpectMap(ingress));
    KUBEDP_RETURN_IF_ERROR(ReadString(ingress["ip"], &ip));
    if (!ip.empty()) svc->load_balancer_ips.push_back(std::move(ip));
    return Status::Ok();
  });
}

Status DecodeServiceSelector(const Field& f, Service* svc) {
  Labels selector;
  KUBEDP_RETURN_IF_ERROR(ReadStringMap(f, &selector));
  // An empty selector is dropped when the API server stores the object, so
  // it means "no selector", not "every pod".
  if (!selector.empty()) svc->selector = std::move(selector);
  return Status::Ok();
}

Status DecodeService(const Field& root, Service* svc) {
  Field spec = root["spec"];
  KUBEDP_RETURN_IF_ERROR(ExpectMap(spec));
  KUBEDP_RETURN_IF_ERROR(ReadOneOf(
      spec["type"], {"ClusterIP", "NodePort", "LoadBalancer", "ExternalName"}, &svc->type));
  KUBEDP_RETURN_IF_ERROR(DecodeClusterIPs(spec, svc));
  KUBEDP_RETURN_IF_ERROR(ForEach(spec["ports"], [svc](const Field& f) {
    ServicePort port;
    KUBEDP_RETURN_IF_ERROR(DecodeServicePort(f, &port));
    svc->ports.push_back(std::move(port));
    return Status::Ok();
  }));
  KUBEDP_RETURN_IF_ERROR(DecodeServiceSelector(spec["selector"], svc));
  KUBEDP_RETURN_IF_ERROR(ReadStringList(spec["externalIPs"], &svc->external_ips));
  KUBEDP_RETURN_IF_ERROR(DecodeSessionAffinity(spec, svc));
  KUBEDP_RETURN_IF_ERROR(ReadOneOf(spec["externalTrafficPolicy"], {"Cluster", "Local"},
                                   &svc->external_traffic_policy));
  KUBEDP_RETURN_IF_ERROR(ReadOneOf(spec["internalTrafficPolicy"], {"Cluster", "Local"},
                                   &svc->internal_traffic_policy));
  return DecodeLoadBalancerStatus(root["status"], svc);
}

// ---------------------------------------------------------------------------
// EndpointSlice

Status DecodeEndpoint(const Field& f, Endpoint* endpoint) {
  KUBEDP_RETURN_IF_ERROR(ExpectMap(f));
  KUBEDP_RETURN_IF_ERROR(Required(f["addresses"]));
  KUBEDP_RETURN_IF_ERROR(ReadStringList(f["addresses"], &endpoint->addresses));
  if (endpoint->addresses.empty()) return f["addresses"].Fail("must list at least one address");
  Field conditions = f["conditions"];
  KUBEDP_RETURN_IF_ERROR(ExpectMap(conditions));
  KUBEDP_RETURN_IF_ERROR(ReadOptionalBool(conditions["ready"], &endpoint->conditions.ready));
  KUBEDP_RETURN_IF_ERROR(ReadOptionalBool(conditions["serving"], &endpoint->conditions.serving));
  KUBEDP_RETURN_IF_ERROR(
      ReadOptionalBool(conditions["terminating"], &endpoint->conditions.terminating));
  KUBEDP_RETURN_IF_ERROR(ReadString(f["nodeName"], &endpoint->node_name));
  Field target = f["targetRef"];
  KUBEDP_RETURN_IF_ERROR(ExpectMap(target));
  KUBEDP_RETURN_IF_ERROR(ReadString(target["namespace"], &endpoint->target_namespace));
  return ReadString(target["name"], &endpoint->target_name);
}

Status DecodeEndpointPort(const Field& f, EndpointPort* port) {
  KUBEDP_RETURN_IF_ERROR(ExpectMap(f));
  KUBEDP_RETURN_IF_ERROR(ReadString(f["name"], &port->name));
  KUBEDP_RETURN_IF_ERROR(ReadProtocol(f["protocol"], &port->protocol));
  KUBEDP_RETURN_IF_ERROR(ReadOptionalInt32(f["port"], &port->port));
  if (port->port.has_value()) return CheckRange(f["port"], *port->port, 1, 65535);
  return Status::Ok();
}

Status DecodeEndpointSlice(const Field& root, EndpointSlice* slice) {
  auto label = slice->meta.labels.find("kubernetes.io/service-name");
  if (label != slice->meta.labels.end()) slice->service_name = label->second;
  KUBEDP_RETURN_IF_ERROR(Required(root["addressType"]));
  KUBEDP_RETURN_IF_ERROR(
      ReadOneOf(root["addressType"], {"IPv4", "IPv6", "FQDN"}, &slice->address_type));
  KUBEDP_RETURN_IF_ERROR(ForEach(root["endpoints"], [slice](const Field& f) {
    Endpoint endpoint;
    KUBEDP_RETURN_IF_ERROR(DecodeEndpoint(f, &endpoint));
    slice->endpoints.push_back(std::move(endpoint));
    return Status::Ok();
  }));
  return ForEach(root["ports"], [slice](const Field& f) {
    EndpointPort port;
    KUBEDP_RETURN_IF_ERROR(DecodeEndpointPort(f, &port));
    slice->ports.push_back(std::move(port));
    return Status::Ok();
  });
}

// ---------------------------------------------------------------------------
// NetworkPolicy

Status DecodeIpBlock(const Field& f, IpBlock* block) {
  KUBEDP_RETURN_IF_ERROR(ExpectMap(f));
  std::optional<Cidr> cidr;
  KUBEDP_RETURN_IF_ERROR(ReadCidr(f["cidr"], &block->cidr, &cidr));
  KUBEDP_RETURN_IF_ERROR(ReadStringList(f["except"], &block->except));
  for (size_t i = 0; i < block->except.size(); ++i) {
    Field item = f["except"].At(i);
    std::optional<Cidr> except = ParseCidr(block->except[i]);
    if (!except.has_value()) {
      return item.Fail("not a valid IPv4 or IPv6 CIDR: " + Quote(block->except[i]));
    }
    // The API wants each exception strictly inside cidr, else it either
    // excludes nothing or the whole block.
    if (!cidr->Contains(*except) || except->prefix_len == cidr->prefix_len) {
      return item.Fail("must be a strict subset of cidr " + block->cidr + ", got " +
                       Quote(block->except[i]));
    }
  }
  return Status::Ok();
}

Status DecodePeer(const Field& f, PolicyPeer* peer) {
  KUBEDP_RETURN_IF_ERROR(ExpectMap(f));
  KUBEDP_RETURN_IF_ERROR(DecodeOptionalSelector(f["podSelector"], &peer->pod_selector));
  KUBEDP_RETURN_IF_ERROR(DecodeOptionalSelector(f["namespaceSelector"], &peer->namespace_selector));
  if (f["ipBlock"].Present()) {
    peer->ip_block.emplace();
    KUBEDP_RETURN_IF_ERROR(DecodeIpBlock(f["ipBlock"], &*peer->ip_block));
  }
  bool selects = peer->pod_selector.has_value() || peer->namespace_selector.has_value();
  if (!selects && !peer->ip_block.has_value()) {
    return f.Fail("must set podSelector, namespaceSelector or ipBlock");
  }
  if (selects && peer->ip_block.has_value()) {
    return f.Fail("ipBlock cannot be combined with podSelector or namespaceSelector");
  }
  return Status::Ok();
}

Status CheckEndPort(const Field& f, const PolicyPort& port) {
  Field end = f["endPort"];
  if (!port.port.has_value()) return end.Fail("requires port to be set");
  if (!port.port->number.has_value()) {
    return end.Fail("requires a numeric port, but port is " + Quote(port.port->name));
  }
  KUBEDP_RETURN_IF_ERROR(CheckRange(end, *port.end_port, 1, 65535));
  if (*port.end_port < *port.port->number) {
    return end.Fail("must be greater than or equal to port (" + std::to_string(*port.port->number) +
                    "), got " + std::to_string(*port.end_port));
  }
  return Status::Ok();
}

Status DecodePolicyPort(const Field& f, PolicyPort* port) {
  KUBEDP_RETURN_IF_ERROR(ExpectMap(f));
  KUBEDP_RETURN_IF_ERROR(ReadProtocol(f["protocol"], &port->protocol));
  KUBEDP_RETURN_IF_ERROR(ReadPortRef(f["port"], &port->port));
  KUBEDP_RETURN_IF_ERROR(ReadOptionalInt32(f["endPort"], &port->end_port));
  if (port->end_port.has_value()) return CheckEndPort(f, *port);
  return Status::Ok();
}

// peers_key is "from" for ingress rules and "to" for egress rules.
Status DecodeRule(const Field& f, std::string_view peers_key, PolicyRule* rule) {
  KUBEDP_RETURN_IF_ERROR(ExpectMap(f));
  KUBEDP_RETURN_IF_ERROR(ForEach(f[peers_key], [rule](const Field& item) {
    PolicyPeer peer;
    KUBEDP_RETURN_IF_ERROR(DecodePeer(item, &peer));
    rule->peers.push_back(std::move(peer));
    return Status::Ok();
  }));
  return ForEach(f["ports"], [rule](const Field& item) {
    PolicyPort port;
    KUBEDP_RETURN_IF_ERROR(DecodePolicyPort(item, &port));
    rule->ports.push_back(std::move(port));
    return Status::Ok();
  });
}

Status DecodeRules(const Field& f, std::string_view peers_key, std::vector<PolicyRule>* rules) {
  return ForEach(f, [peers_key, rules](const Field& item) {
    PolicyRule rule;
    KUBEDP_RETURN_IF_ERROR(DecodeRule(item, peers_key, &rule));
    rules->push_back(std::move(rule));
    return Status::Ok();
  });
}

// Defaulting as in the API server (SetDefaults_NetworkPolicy in
// k8s.io/kubernetes pkg/apis/networking/v1/defaults.go): when policyTypes is
// absent or empty, the policy always affects Ingress, and affects Egress only
// if spec.egress has at least one rule. So an ingress-only policy never turns
// into a default-deny for egress by accident.
Status DecodePolicyTypes(const Field& f, NetworkPolicy* policy) {
  std::vector<std::string> types;
  KUBEDP_RETURN_IF_ERROR(ReadStringList(f, &types));
  if (types.empty()) {
    policy->affects_ingress = true;
    policy->affects_egress = !policy->egress.empty();
    return Status::Ok();
  }
  policy->affects_ingress = policy->affects_egress = false;
  for (size_t i = 0; i < types.size(); ++i) {
    std::string type = types[i];
    KUBEDP_RETURN_IF_ERROR(ReadOneOf(f.At(i), {"Ingress", "Egress"}, &type));
    (type == "Ingress" ? policy->affects_ingress : policy->affects_egress) = true;
  }
  return Status::Ok();
}

Status DecodeNetworkPolicy(const Field& root, NetworkPolicy* policy) {
  Field spec = root["spec"];
  KUBEDP_RETURN_IF_ERROR(ExpectMap(spec));
  KUBEDP_RETURN_IF_ERROR(DecodeSelector(spec["podSelector"], &policy->pod_selector));
  KUBEDP_RETURN_IF_ERROR(DecodeRules(spec["ingress"], "from", &policy->ingress));
  KUBEDP_RETURN_IF_ERROR(DecodeRules(spec["egress"], "to", &policy->egress));
  return DecodePolicyTypes(spec["policyTypes"], policy);
}

// ---------------------------------------------------------------------------
// Node, Namespace, ConfigMap

Status DecodeNodeAddresses(const Field& f, Node* node) {
  return ForEach(f, [node](const Field& item) {
    std::string type, address;
    KUBEDP_RETURN_IF_ERROR(ExpectMap(item));
    KUBEDP_RETURN_IF_ERROR(ReadRequiredString(item["type"], &type));
    KUBEDP_RETURN_IF_ERROR(ReadRequiredString(item["address"], &address));
    node->addresses.emplace_back(std::move(type), std::move(address));
    return Status::Ok();
  });
}

Status AddPodCidr(const Field& f, const std::string& text, Node* node) {
  if (!ParseCidr(text).has_value()) return f.Fail("not a valid IPv4 or IPv6 CIDR: " + Quote(text));
  auto& cidrs = node->pod_cidrs;
  if (std::find(cidrs.begin(), cidrs.end(), text) == cidrs.end()) cidrs.push_back(text);
  return Status::Ok();
}

Status DecodeNode(const Field& root, Node* node) {
  Field spec = root["spec"];
  KUBEDP_RETURN_IF_ERROR(ExpectMap(spec));
  std::string pod_cidr;
  KUBEDP_RETURN_IF_ERROR(ReadString(spec["podCIDR"], &pod_cidr));
  if (!pod_cidr.empty()) KUBEDP_RETURN_IF_ERROR(AddPodCidr(spec["podCIDR"], pod_cidr, node));
  std::vector<std::string> pod_cidrs;
  KUBEDP_RETURN_IF_ERROR(ReadStringList(spec["podCIDRs"], &pod_cidrs));
  for (size_t i = 0; i < pod_cidrs.size(); ++i) {
    KUBEDP_RETURN_IF_ERROR(AddPodCidr(spec["podCIDRs"].At(i), pod_cidrs[i], node));
  }
  Field status = root["status"];
  KUBEDP_RETURN_IF_ERROR(ExpectMap(status));
  return DecodeNodeAddresses(status["addresses"], node);
}

Status DecodeNamespace(const Field&, Namespace*) {
  return Status::Ok();
}

Status DecodeConfigMap(const Field& root, ConfigMap* config_map) {
  return ReadStringMap(root["data"], &config_map->data);
}

// ---------------------------------------------------------------------------
// Dispatch by kind.

using KindDecoder = Status (*)(const Field& root, ObjectMeta meta, Object* out);

template <typename T, Status (*kBody)(const Field&, T*)>
Status DecodeKind(const Field& root, ObjectMeta meta, Object* out) {
  T object;
  object.meta = std::move(meta);
  KUBEDP_RETURN_IF_ERROR(kBody(root, &object));
  *out = std::move(object);
  return Status::Ok();
}

struct KindInfo {
  std::string_view kind;
  std::string_view group;  // "" for the core group
  std::string_view version;
  bool namespaced;
  KindDecoder decode;
};

constexpr KindInfo kKinds[] = {
    {"Namespace", "", "v1", false, &DecodeKind<Namespace, DecodeNamespace>},
    {"Pod", "", "v1", true, &DecodeKind<Pod, DecodePod>},
    {"Service", "", "v1", true, &DecodeKind<Service, DecodeService>},
    {"EndpointSlice", "discovery.k8s.io", "v1", true,
     &DecodeKind<EndpointSlice, DecodeEndpointSlice>},
    {"NetworkPolicy", "networking.k8s.io", "v1", true,
     &DecodeKind<NetworkPolicy, DecodeNetworkPolicy>},
    {"Node", "", "v1", false, &DecodeKind<Node, DecodeNode>},
    {"ConfigMap", "", "v1", true, &DecodeKind<ConfigMap, DecodeConfigMap>},
};

// "discovery.k8s.io/v1" -> "discovery.k8s.io"; "v1" -> "" (the core group).
std::string_view GroupOf(std::string_view api_version) {
  size_t slash = api_version.find('/');
  return slash == std::string_view::npos ? std::string_view() : api_version.substr(0, slash);
}

std::string_view VersionOf(std::string_view api_version) {
  size_t slash = api_version.find('/');
  return slash == std::string_view::npos ? api_version : api_version.substr(slash + 1);
}

const KindInfo* FindKind(std::string_view api_version, std::string_view kind) {
  for (const KindInfo& info : kKinds) {
    if (info.kind == kind && info.group == GroupOf(api_version)) return &info;
  }
  return nullptr;
}

using Json = nlohmann::json;

// Reads a string for labelling an object in messages, before validation.
std::string LooseString(const Json& node, std::string_view key) {
  auto it = node.find(key);
  return it != node.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// "Pod default/web", "Node n1", "Pod" when the name is missing, "" without a kind.
std::string Identify(const Json& root) {
  std::string kind = LooseString(root, "kind");
  if (kind.empty()) return "";
  auto meta = root.find("metadata");
  bool meta_is_map = meta != root.end() && meta->is_object();
  std::string name = meta_is_map ? LooseString(*meta, "name") : "";
  if (name.empty()) return kind;
  std::string ns = meta_is_map ? LooseString(*meta, "namespace") : "";
  const KindInfo* info = FindKind(LooseString(root, "apiVersion"), kind);
  if (info != nullptr && !info->namespaced) ns.clear();
  if (info != nullptr && info->namespaced && ns.empty()) ns = "default";
  return kind + " " + (ns.empty() ? name : ns + "/" + name);
}

// "pods.yaml: document 2 (Pod default/web)": what error messages start with.
std::string Prefix(std::string_view where, const Json& node) {
  std::string identity = node.is_object() ? Identify(node) : "";
  return std::string(where) + (identity.empty() ? "" : " (" + identity + ")");
}

// Checks the document is a mapping and reads apiVersion and kind.
Status ReadHeader(const Field& root, std::string* api_version, std::string* kind) {
  if (!root.Present() || !root.node().is_object()) return root.WrongType("a mapping");
  KUBEDP_RETURN_IF_ERROR(ExpectMap(root));
  KUBEDP_RETURN_IF_ERROR(ReadRequiredString(root["kind"], kind));
  return ReadRequiredString(root["apiVersion"], api_version);
}

Status CheckVersion(const Field& f, const KindInfo& info, std::string_view api_version) {
  if (VersionOf(api_version) == info.version) return Status::Ok();
  std::string expected(info.version);
  if (!info.group.empty()) expected = std::string(info.group) + "/" + expected;
  return f.Fail("unsupported version " + Quote(api_version) + " for " + std::string(info.kind) +
                ", expected " + expected);
}

Status DecodeModeled(const Field& root, const KindInfo& info, std::string_view api_version,
                     Object* out) {
  KUBEDP_RETURN_IF_ERROR(CheckVersion(root["apiVersion"], info, api_version));
  ObjectMeta meta;
  KUBEDP_RETURN_IF_ERROR(DecodeMeta(root["metadata"], info.namespaced, &meta));
  return info.decode(root, std::move(meta), out);
}

// Decodes one document into *object, or sets *skipped when its kind is not
// modeled. Errors are prefixed with where and the object's identity.
Status DecodeDocument(const Json& node, std::string_view where, std::optional<Object>* object,
                      std::string* skipped) {
  Field root(&node, "");
  std::string api_version, kind;
  KUBEDP_RETURN_IF_ERROR(ReadHeader(root, &api_version, &kind).Context(Prefix(where, node)));
  const KindInfo* info = FindKind(api_version, kind);
  if (info == nullptr) {
    *skipped = Identify(node);
    return Status::Ok();
  }
  Object decoded;
  KUBEDP_RETURN_IF_ERROR(
      DecodeModeled(root, *info, api_version, &decoded).Context(Prefix(where, node)));
  *object = std::move(decoded);
  return Status::Ok();
}

Status DecodeInto(const Json& node, std::string_view where, DecodeOutput* out) {
  std::optional<Object> object;
  std::string skipped;
  KUBEDP_RETURN_IF_ERROR(DecodeDocument(node, where, &object, &skipped));
  if (object.has_value()) out->objects.push_back(std::move(*object));
  if (!skipped.empty()) out->skipped.push_back(std::move(skipped));
  return Status::Ok();
}

bool IsListKind(std::string_view kind) {
  return kind.ends_with("List");
}

// A list document: "kind: List", or a typed list such as PodList with items.
bool IsList(const Json& node) {
  if (!node.is_object()) return false;
  std::string kind = LooseString(node, "kind");
  return kind == "List" || (IsListKind(kind) && node.contains("items"));
}

// Items of a typed list (PodList as the API server returns it) carry no
// kind or apiVersion of their own; they inherit them from the list. Returns
// the item itself when it has both, or else a completed copy in *completed.
const Json& WithListDefaults(const Json& item, std::string_view list_kind,
                             const Json& list_api_version, Json* completed) {
  if (list_kind == "List" || !item.is_object()) return item;
  if (item.contains("kind") && item.contains("apiVersion")) return item;
  *completed = item;
  if (!completed->contains("kind")) {
    (*completed)["kind"] = std::string(list_kind.substr(0, list_kind.size() - 4));
  }
  if (!completed->contains("apiVersion")) (*completed)["apiVersion"] = list_api_version;
  return *completed;
}

Status DecodeList(const Json& node, std::string_view where, std::string_view kind,
                  DecodeOutput* out) {
  Field root(&node, "");
  const Json api_version = node.value("apiVersion", Json());
  return ForEach(root["items"], [&](const Field& item) {
    std::string item_where = std::string(where) + ", " + item.path();
    Json completed;
    const Json& resolved = WithListDefaults(item.node(), kind, api_version, &completed);
    if (IsList(resolved)) {
      return Status::Invalid(item_where + ": lists inside lists are not supported");
    }
    return DecodeInto(resolved, item_where, out);
  });
}

Status DecodeAnyDocument(const Json& node, std::string_view where, DecodeOutput* out) {
  if (!IsList(node)) return DecodeInto(node, where, out);
  std::string api_version, kind;
  Status header = ReadHeader(Field(&node, ""), &api_version, &kind);
  if (!header.ok()) return header.Context(Prefix(where, node));
  return DecodeList(node, where, kind, out);
}

// nlohmann's document builder, also catching duplicate keys (it would keep
// the last). Its filtering callback parser could do this too, at five times
// the cost; a large state arrives as JSON, so this path must stay fast.
class StrictJsonBuilder : public nlohmann::detail::json_sax_dom_parser<Json> {
 public:
  using Base = nlohmann::detail::json_sax_dom_parser<Json>;
  explicit StrictJsonBuilder(Json& root) : Base(root, /*allow_exceptions=*/true) {}

  bool start_object(std::size_t size) {
    open_keys_.emplace_back();
    return Base::start_object(size);
  }
  bool end_object() {
    open_keys_.pop_back();
    return Base::end_object();
  }
  bool key(Json::string_t& key) {
    auto& keys = open_keys_.back();  // objects are small: a list beats a set
    if (duplicate_.empty() && std::find(keys.begin(), keys.end(), key) != keys.end()) {
      duplicate_ = key;
    }
    keys.push_back(key);
    return Base::key(key);
  }
  const std::string& duplicate() const { return duplicate_; }

 private:
  std::vector<std::vector<std::string>> open_keys_;  // one list per open object
  std::string duplicate_;
};

// A JSON file holds one document (what `kubectl get -o json` writes).
Result<Json> ParseJson(std::string_view text, std::string_view origin) {
  Json document;
  StrictJsonBuilder builder(document);
  try {
    Json::sax_parse(text, &builder);
  } catch (const Json::parse_error& e) {
    std::string what = e.what();
    size_t detail = what.find("] ");  // drop nlohmann's "[json.exception...] "
    return Status::Invalid(std::string(origin) + ": " +
                           (detail == std::string::npos ? what : what.substr(detail + 2)));
  }
  if (!builder.duplicate().empty()) {
    return Status::Invalid(std::string(origin) + ": duplicate key " + Quote(builder.duplicate()));
  }
  return document;
}

Result<std::vector<Json>> ParseYaml(std::string_view text, std::string_view origin) {
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(std::string(text));
  } catch (const YAML::ParserException& e) {
    return Status::Invalid(std::string(origin) + ": line " + std::to_string(e.mark.line + 1) +
                           ", column " + std::to_string(e.mark.column + 1) + ": " + e.msg);
  } catch (const YAML::Exception& e) {
    return Status::Invalid(std::string(origin) + ": " + e.msg);
  }
  std::vector<Json> out;
  for (size_t i = 0; i < documents.size(); ++i) {
    std::string problem;
    // An empty document ("---" with nothing, or only comments) stays null.
    out.push_back(documents[i].IsNull() ? Json() : YamlToJson(documents[i], &problem));
    if (!problem.empty()) {
      return Status::Invalid(
          Prefix(std::string(origin) + ": document " + std::to_string(i + 1), out.back()) + ": " +
          problem);
    }
  }
  return out;
}

}  // namespace

bool IsModeledKind(std::string_view api_version, std::string_view kind) {
  return FindKind(api_version, kind) != nullptr;
}

Result<Object> DecodeObject(const nlohmann::json& node, std::string_view where) {
  std::optional<Object> object;
  std::string skipped;
  KUBEDP_RETURN_IF_ERROR(DecodeDocument(node, where, &object, &skipped));
  if (!object.has_value()) {
    return Status::Error(ENOTSUP, std::string(where) + " (" + skipped + "): kind is not modeled");
  }
  return std::move(*object);
}

Result<DecodeOutput> DecodeManifests(std::string_view text, std::string_view origin) {
  std::vector<Json> documents;
  if (origin.ends_with(".json")) {
    bool blank = text.find_first_not_of(" \t\r\n") == std::string_view::npos;
    if (!blank) {
      auto parsed = ParseJson(text, origin);
      if (!parsed.ok()) return parsed.status();
      documents.push_back(std::move(*parsed));
    }
  } else {
    auto parsed = ParseYaml(text, origin);
    if (!parsed.ok()) return parsed.status();
    documents = std::move(*parsed);
  }
  DecodeOutput out;
  for (size_t i = 0; i < documents.size(); ++i) {
    if (documents[i].is_null()) continue;
    std::string where = std::string(origin) + ": document " + std::to_string(i + 1);
    KUBEDP_RETURN_IF_ERROR(DecodeAnyDocument(documents[i], where, &out));
  }
  return out;
}

}  // namespace kubedp::k8s
