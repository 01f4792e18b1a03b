#include "k8s/objects.h"

#include <algorithm>
#include <type_traits>

namespace kubedp::k8s {
namespace {

// Overloads chosen by std::visit: one line per kind instead of a switch.
std::string_view KindName(const Namespace&) {
  return "Namespace";
}
std::string_view KindName(const Pod&) {
  return "Pod";
}
std::string_view KindName(const Service&) {
  return "Service";
}
std::string_view KindName(const EndpointSlice&) {
  return "EndpointSlice";
}
std::string_view KindName(const NetworkPolicy&) {
  return "NetworkPolicy";
}
std::string_view KindName(const Node&) {
  return "Node";
}
std::string_view KindName(const ConfigMap&) {
  return "ConfigMap";
}

auto& MapFor(ClusterState& s, const Namespace&) {
  return s.namespaces;
}
auto& MapFor(ClusterState& s, const Pod&) {
  return s.pods;
}
auto& MapFor(ClusterState& s, const Service&) {
  return s.services;
}
auto& MapFor(ClusterState& s, const EndpointSlice&) {
  return s.endpoint_slices;
}
auto& MapFor(ClusterState& s, const NetworkPolicy&) {
  return s.network_policies;
}
auto& MapFor(ClusterState& s, const Node&) {
  return s.nodes;
}
auto& MapFor(ClusterState& s, const ConfigMap&) {
  return s.config_maps;
}

template <typename T>
constexpr bool kClusterScoped = std::is_same_v<T, Namespace> || std::is_same_v<T, Node>;

bool Contains(const std::vector<std::string>& values, const std::string& value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

}  // namespace

std::string ObjectMeta::Key() const {
  if (namespace_.empty()) return name;
  return namespace_ + "/" + name;
}

bool LabelRequirement::Matches(const Labels& labels) const {
  auto it = labels.find(key);
  bool present = it != labels.end();
  switch (op) {
    case Operator::kIn:
      return present && Contains(values, it->second);
    case Operator::kNotIn:
      // As in Kubernetes, a missing key is "not in" any set.
      return !present || !Contains(values, it->second);
    case Operator::kExists:
      return present;
    case Operator::kDoesNotExist:
      return !present;
  }
  return false;
}

bool LabelSelector::Matches(const Labels& labels) const {
  for (const auto& [key, value] : match_labels) {
    auto it = labels.find(key);
    if (it == labels.end() || it->second != value) return false;
  }
  return std::all_of(match_expressions.begin(), match_expressions.end(),
                     [&](const LabelRequirement& r) { return r.Matches(labels); });
}

std::string IntOrString::ToString() const {
  if (number.has_value()) return std::to_string(*number);
  return name;
}

std::string_view KindOf(const Object& object) {
  return std::visit([](const auto& o) { return KindName(o); }, object);
}

const ObjectMeta& MetaOf(const Object& object) {
  return std::visit([](const auto& o) -> const ObjectMeta& { return o.meta; }, object);
}

ObjectMeta& MetaOf(Object& object) {
  return std::visit([](auto& o) -> ObjectMeta& { return o.meta; }, object);
}

bool IsNamespaced(const Object& object) {
  return std::visit([](const auto& o) { return !kClusterScoped<std::decay_t<decltype(o)>>; },
                    object);
}

void ClusterState::Add(Object object) {
  if (IsNamespaced(object) && MetaOf(object).namespace_.empty()) {
    MetaOf(object).namespace_ = "default";
  }
  std::visit(
      [this](auto&& o) {
        auto& map = MapFor(*this, o);
        std::string key = o.meta.Key();
        map.insert_or_assign(std::move(key), std::move(o));
      },
      std::move(object));
}

bool ClusterState::Contains(std::string_view kind, const std::string& key) const {
  if (kind == "Namespace") return namespaces.contains(key);
  if (kind == "Pod") return pods.contains(key);
  if (kind == "Service") return services.contains(key);
  if (kind == "EndpointSlice") return endpoint_slices.contains(key);
  if (kind == "NetworkPolicy") return network_policies.contains(key);
  if (kind == "Node") return nodes.contains(key);
  if (kind == "ConfigMap") return config_maps.contains(key);
  return false;
}

size_t ClusterState::Size() const {
  return namespaces.size() + pods.size() + services.size() + endpoint_slices.size() +
         network_policies.size() + nodes.size() + config_maps.size();
}

}  // namespace kubedp::k8s
