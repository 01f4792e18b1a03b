// The policy oracle: a pure evaluator of Kubernetes NetworkPolicy
// (networking.k8s.io/v1) that answers, from the cluster state alone, whether a
// connection is allowed and by which policy and rule. It backs
// `kubedp policy trace`, and tests compare what the kernel does against it.
//
// Semantics relied on (NetworkPolicy API reference and the "Network Policies"
// concept page):
//  - A pod is isolated for ingress (egress) when at least one policy of its own
//    namespace selects it (spec.podSelector; empty selects every pod of the
//    namespace) and that policy's policyTypes include Ingress (Egress).
//    NetworkPolicy::affects_ingress/affects_egress already hold the API
//    defaulting. An isolated pod accepts only what the union of the rules of
//    all its selecting policies allows; policies never subtract.
//  - A connection needs both the egress side of the source pod and the ingress
//    side of the destination pod to allow it. A side that is not a pod has no
//    policy of its own.
//  - Exceptions: a pod cannot block access to itself, and traffic to and from
//    the node a pod runs on is always allowed.
//  - hostNetwork pods: the concept page leaves their behaviour undefined with
//    two permitted choices. kubedp cannot tell a hostNetwork pod's packets from
//    the node's, so it takes the second one: hostNetwork pods are never
//    selected by a policy, and as the remote side of a rule they are not
//    matched by podSelector/namespaceSelector; they are plain addresses (the
//    node's) that only ipBlock can match.
#pragma once

#include <string>
#include <vector>

#include "k8s/objects.h"

namespace kubedp::control {

// One side of a connection.
struct PolicyPeerRef {
  // "namespace/name" when the side is a pod in the state, else empty. A key
  // that names no pod in the state is treated as a plain address.
  std::string pod;
  // IPv4 dotted quad; for a pod, filled from its status podIP when empty.
  std::string ip;
  // The node itself (kubelet probes): its traffic to local pods is allowed.
  bool is_node = false;
};

struct ConnectionQuery {
  PolicyPeerRef source;
  PolicyPeerRef destination;
  int port = 0;                  // destination port
  std::string protocol = "TCP";  // TCP, UDP or SCTP (compared case-insensitively)
};

// One rule that allows the connection.
struct RuleMatch {
  std::string policy;     // "namespace/name"
  std::string direction;  // "ingress" or "egress"
  int rule_index = 0;     // index into spec.ingress or spec.egress
  bool operator==(const RuleMatch&) const = default;
};

// The verdict of one side: egress of the source pod or ingress of the
// destination pod. A side that is not a pod is never isolated.
struct DirectionVerdict {
  bool isolated = false;
  // Whether this side lets the connection through. Also true when isolated but
  // an always-allowed exception (self, node) applies; allowed_by is then empty.
  bool allowed = true;
  std::vector<RuleMatch> allowed_by;            // every matching rule, by policy key then index
  std::vector<std::string> isolating_policies;  // every selecting policy of this direction
};

struct PolicyVerdict {
  bool allowed = true;
  DirectionVerdict egress;   // of the source pod
  DirectionVerdict ingress;  // of the destination pod
  std::string reason;        // one human sentence
};

PolicyVerdict EvaluatePolicy(const k8s::ClusterState& state, const ConnectionQuery& query);

// Multi-line rendering for the CLI: the verdict, the reason, then one line per
// direction with its isolating policies and allowing rules.
std::string FormatVerdict(const PolicyVerdict& verdict);

// Keys of every policy (either direction) that selects the pod, in key order.
// Empty when the pod is unknown or uses the host network.
std::vector<std::string> PoliciesSelecting(const k8s::ClusterState& state,
                                           const std::string& pod_key);

}  // namespace kubedp::control
