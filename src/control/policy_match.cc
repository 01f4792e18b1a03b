#include "control/policy_match.h"

#include <cctype>

namespace kubedp::control {

k8s::Labels NamespaceLabels(const k8s::ClusterState& state, const std::string& name) {
  k8s::Labels labels;
  auto it = state.namespaces.find(name);
  if (it != state.namespaces.end()) labels = it->second.meta.labels;
  // Set even when the Namespace object is missing from the state: the pod
  // exists, so its namespace does, and the API server always adds the label.
  labels[kNamespaceNameLabel] = name;
  return labels;
}

bool PolicySelects(const k8s::NetworkPolicy& policy, const k8s::Pod& pod) {
  return !pod.host_network && policy.meta.namespace_ == pod.meta.namespace_ &&
         policy.pod_selector.Matches(pod.meta.labels);
}

bool SelectorPeerMatchesPod(const k8s::ClusterState& state, const k8s::NetworkPolicy& policy,
                            const k8s::PolicyPeer& peer, const k8s::Pod& pod) {
  // The API rejects a peer with no field set; match nothing rather than guess.
  if (!peer.pod_selector.has_value() && !peer.namespace_selector.has_value()) return false;
  if (pod.host_network) return false;
  if (peer.namespace_selector.has_value()) {
    if (!peer.namespace_selector->Matches(NamespaceLabels(state, pod.meta.namespace_))) {
      return false;
    }
  } else if (pod.meta.namespace_ != policy.meta.namespace_) {
    return false;
  }
  return !peer.pod_selector.has_value() || peer.pod_selector->Matches(pod.meta.labels);
}

std::string UpperCase(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

}  // namespace kubedp::control
