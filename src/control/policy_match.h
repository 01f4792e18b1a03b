// The selection rules of NetworkPolicy shared by the oracle (which answers one
// question) and the compiler (which writes every answer into tables).
#pragma once

#include <string>

#include "k8s/objects.h"

namespace kubedp::control {

// The API server labels every namespace with its own name.
inline constexpr char kNamespaceNameLabel[] = "kubernetes.io/metadata.name";

// A namespace's labels, with the implicit kubernetes.io/metadata.name.
k8s::Labels NamespaceLabels(const k8s::ClusterState& state, const std::string& name);

// spec.podSelector selects non-hostNetwork pods of the policy's own namespace.
bool PolicySelects(const k8s::NetworkPolicy& policy, const k8s::Pod& pod);

// A podSelector/namespaceSelector peer (no ipBlock) against a pod:
//  - podSelector alone: pods of the policy's namespace;
//  - namespaceSelector alone: every pod of the matching namespaces;
//  - both: pods matching podSelector in the matching namespaces.
// hostNetwork pods are never matched by selectors (they are the node's address).
bool SelectorPeerMatchesPod(const k8s::ClusterState& state, const k8s::NetworkPolicy& policy,
                            const k8s::PolicyPeer& peer, const k8s::Pod& pod);

std::string UpperCase(std::string text);

}  // namespace kubedp::control
