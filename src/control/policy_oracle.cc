#include "control/policy_oracle.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <optional>
#include <string_view>

#include "common/ip.h"
#include "control/policy_match.h"
#include "k8s/cidr.h"

namespace kubedp::control {
namespace {

using k8s::ClusterState;
using k8s::NetworkPolicy;
using k8s::Pod;

enum class Direction { kIngress, kEgress };

std::string_view DirectionName(Direction direction) {
  return direction == Direction::kIngress ? "ingress" : "egress";
}

// One side of the connection, resolved against the state.
struct Side {
  const Pod* pod = nullptr;  // set when the side names a pod of the state
  std::string key;           // the pod's key when pod is set
  std::string ip;
  bool is_node = false;

  // Whether NetworkPolicy knows this side as a pod: it can be selected by a
  // policy and matched by podSelector/namespaceSelector peers. hostNetwork pods
  // are not (see the header): they are the node's address.
  bool IsPolicyPod() const { return pod != nullptr && !pod->host_network; }
};

Side Resolve(const ClusterState& state, const PolicyPeerRef& ref) {
  Side side;
  side.ip = ref.ip;
  side.is_node = ref.is_node;
  if (ref.is_node || ref.pod.empty()) return side;
  auto it = state.pods.find(ref.pod);
  if (it == state.pods.end()) return side;
  side.pod = &it->second;
  side.key = ref.pod;
  if (side.ip.empty()) side.ip = side.pod->pod_ip;
  return side;
}

std::string Describe(const Side& side) {
  if (side.pod != nullptr) {
    return side.pod->host_network ? side.key + " (host network)" : side.key;
  }
  if (side.is_node) return side.ip.empty() ? "the node" : "node " + side.ip;
  return side.ip.empty() ? "an unknown address" : side.ip;
}

bool Affects(const NetworkPolicy& policy, Direction direction) {
  return direction == Direction::kIngress ? policy.affects_ingress : policy.affects_egress;
}

// ipBlock: the address is in cidr and in none of the except ranges. Any
// address counts, pod IPs included. IPv6 blocks never match an IPv4 address,
// and an unknown or unparsable address matches no block.
bool IpBlockContains(const k8s::IpBlock& block, const std::string& ip) {
  Result<uint32_t> address = ParseIpv4(ip);
  if (!address.ok()) return false;
  k8s::Cidr host;
  host.prefix_len = 32;
  for (int i = 0; i < 4; ++i) {
    host.address[i] = static_cast<uint8_t>(*address >> (24 - 8 * i));
  }
  std::optional<k8s::Cidr> cidr = k8s::ParseCidr(block.cidr);
  if (!cidr.has_value() || !cidr->Contains(host)) return false;
  for (const std::string& text : block.except) {
    std::optional<k8s::Cidr> except = k8s::ParseCidr(text);
    if (except.has_value() && except->Contains(host)) return false;
  }
  return true;
}

// One from/to entry against the remote side of the connection.
//  - ipBlock: matches the remote address, whatever it is.
//  - podSelector alone: pods of the policy's namespace.
//  - namespaceSelector alone: every pod of the matching namespaces.
//  - both: pods matching podSelector in the matching namespaces.
// An engaged empty selector selects everything. Selectors only ever match a
// pod of the state; a plain address is reachable through ipBlock only.
bool PeerMatches(const ClusterState& state, const NetworkPolicy& policy,
                 const k8s::PolicyPeer& peer, const Side& remote) {
  if (peer.ip_block.has_value()) return IpBlockContains(*peer.ip_block, remote.ip);
  return remote.IsPolicyPod() && SelectorPeerMatchesPod(state, policy, peer, *remote.pod);
}

// One ports entry. The protocol must match (the decoder defaulted it to TCP).
// No port: every port of the protocol. A number, or number..endPort inclusive.
// A name resolves against the containerPorts (name and protocol) of the pod the
// connection goes to; with no such pod (port_owner null) it matches nothing.
bool PortMatches(const k8s::PolicyPort& entry, int port, const std::string& protocol,
                 const Pod* port_owner) {
  if (UpperCase(entry.protocol) != protocol) return false;
  if (!entry.port.has_value() || !entry.port->IsSet()) return true;
  if (entry.port->number.has_value()) {
    int first = *entry.port->number;
    int last = entry.end_port.value_or(first);
    return port >= first && port <= last;
  }
  if (port_owner == nullptr) return false;
  return std::any_of(
      port_owner->ports.begin(), port_owner->ports.end(), [&](const k8s::ContainerPort& cp) {
        return cp.name == entry.port->name && UpperCase(cp.protocol) == protocol && cp.port == port;
      });
}

// A rule allows when some peer and some port entry match; an empty list of
// either matches everything.
bool RuleMatches(const ClusterState& state, const NetworkPolicy& policy,
                 const k8s::PolicyRule& rule, const Side& remote, int port,
                 const std::string& protocol, const Pod* port_owner) {
  bool peer_ok = rule.peers.empty() ||
                 std::any_of(rule.peers.begin(), rule.peers.end(), [&](const k8s::PolicyPeer& p) {
                   return PeerMatches(state, policy, p, remote);
                 });
  if (!peer_ok) return false;
  return rule.ports.empty() ||
         std::any_of(rule.ports.begin(), rule.ports.end(), [&](const k8s::PolicyPort& p) {
           return PortMatches(p, port, protocol, port_owner);
         });
}

// The verdict of subject's side in one direction: ingress of the destination
// or egress of the source. remote is the other side.
DirectionVerdict EvaluateDirection(const ClusterState& state, const Side& subject,
                                   const Side& remote, Direction direction, int port,
                                   const std::string& protocol, const Pod* port_owner) {
  DirectionVerdict verdict;
  if (!subject.IsPolicyPod()) return verdict;
  for (const auto& [key, policy] : state.network_policies) {
    if (!Affects(policy, direction) || !PolicySelects(policy, *subject.pod)) continue;
    // Selection alone isolates, whatever the rules' ports: a policy whose
    // ports are all SCTP still isolates the pod for TCP and UDP.
    verdict.isolated = true;
    verdict.isolating_policies.push_back(key);
    const auto& rules = direction == Direction::kIngress ? policy.ingress : policy.egress;
    for (size_t i = 0; i < rules.size(); ++i) {
      if (RuleMatches(state, policy, rules[i], remote, port, protocol, port_owner)) {
        verdict.allowed_by.push_back(
            {key, std::string(DirectionName(direction)), static_cast<int>(i)});
      }
    }
  }
  verdict.allowed = !verdict.isolated || !verdict.allowed_by.empty();
  return verdict;
}

std::string Join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

std::string DescribeRule(const RuleMatch& match) {
  return match.direction + " rule " + std::to_string(match.rule_index) + " of " + match.policy;
}

// Whether the two sides are one pod: the same pod key, or a pod and a plain
// address equal to that pod's IP.
bool SamePod(const Side& a, const Side& b) {
  if (!a.IsPolicyPod() && !b.IsPolicyPod()) return false;
  if (a.pod != nullptr && b.pod != nullptr) return a.pod == b.pod;
  const Side& pod_side = a.pod != nullptr ? a : b;
  const Side& other = a.pod != nullptr ? b : a;
  return !other.is_node && !other.ip.empty() && other.ip == pod_side.ip;
}

std::string DeniedPart(const DirectionVerdict& verdict, Direction direction, const Side& subject,
                       const Side& remote, const std::string& traffic) {
  std::string name(DirectionName(direction));
  return name + " of " + subject.key + " is isolated by " + Join(verdict.isolating_policies, ", ") +
         " and no " + name + " rule allows " + traffic +
         (direction == Direction::kIngress ? " from " : " to ") + Describe(remote);
}

std::string Reason(const PolicyVerdict& verdict, const Side& source, const Side& destination,
                   const std::string& traffic) {
  if (!verdict.allowed) {
    std::vector<std::string> parts;
    if (!verdict.egress.allowed) {
      parts.push_back(DeniedPart(verdict.egress, Direction::kEgress, source, destination, traffic));
    }
    if (!verdict.ingress.allowed) {
      parts.push_back(
          DeniedPart(verdict.ingress, Direction::kIngress, destination, source, traffic));
    }
    return "denied: " + Join(parts, ", and ");
  }
  std::vector<std::string> rules;
  if (verdict.egress.isolated) rules.push_back(DescribeRule(verdict.egress.allowed_by.front()));
  if (verdict.ingress.isolated) rules.push_back(DescribeRule(verdict.ingress.allowed_by.front()));
  if (!rules.empty()) return "allowed by " + Join(rules, " and ");
  std::vector<std::string> sides;
  if (source.IsPolicyPod()) sides.push_back("egress of " + source.key);
  if (destination.IsPolicyPod()) sides.push_back("ingress of " + destination.key);
  if (sides.empty()) return "allowed: neither side is a pod subject to NetworkPolicy";
  return "allowed: no policy isolates " + Join(sides, " or ");
}

void FormatDirection(std::string* out, std::string_view label, const DirectionVerdict& verdict) {
  *out += label;
  if (!verdict.isolated) {
    *out += "not isolated\n";
    return;
  }
  *out += "isolated by " + Join(verdict.isolating_policies, ", ") + "\n";
  if (!verdict.allowed_by.empty()) {
    for (const RuleMatch& match : verdict.allowed_by) {
      *out += "    allowed by " + DescribeRule(match) + "\n";
    }
  } else if (verdict.allowed) {
    *out += "    no rule matches, but the connection is always allowed\n";
  } else {
    *out += "    no rule allows the connection\n";
  }
}

}  // namespace

PolicyVerdict EvaluatePolicy(const ClusterState& state, const ConnectionQuery& query) {
  Side source = Resolve(state, query.source);
  Side destination = Resolve(state, query.destination);
  std::string protocol = UpperCase(query.protocol);
  std::string traffic = protocol + " " + std::to_string(query.port);

  PolicyVerdict verdict;
  // Named ports of egress rules resolve against the destination, only when it
  // is a pod; those of ingress rules against the selected pod itself, which is
  // the destination too.
  const Pod* port_owner = destination.IsPolicyPod() ? destination.pod : nullptr;
  verdict.egress = EvaluateDirection(state, source, destination, Direction::kEgress, query.port,
                                     protocol, port_owner);
  verdict.ingress = EvaluateDirection(state, destination, source, Direction::kIngress, query.port,
                                      protocol, port_owner);

  // The exceptions of the concept page: a pod cannot block access to itself,
  // and traffic to and from the node where a pod runs is always allowed. The
  // isolation facts stay visible; only the outcome is overridden.
  std::string exception;
  if (SamePod(source, destination)) {
    const Side& pod = source.IsPolicyPod() ? source : destination;
    exception = "allowed: traffic from " + pod.key +
                " to itself is always allowed (a pod cannot block access to itself)";
  } else if (source.is_node && destination.IsPolicyPod()) {
    exception =
        "allowed: traffic from the node to its local pod " + destination.key + " is always allowed";
  } else if (destination.is_node && source.IsPolicyPod()) {
    exception = "allowed: traffic from " + source.key + " to its own node is always allowed";
  }
  if (!exception.empty()) {
    verdict.egress.allowed = verdict.ingress.allowed = true;
    verdict.allowed = true;
    verdict.reason = exception;
    return verdict;
  }

  verdict.allowed = verdict.egress.allowed && verdict.ingress.allowed;
  verdict.reason = Reason(verdict, source, destination, traffic);
  return verdict;
}

std::string FormatVerdict(const PolicyVerdict& verdict) {
  std::string out = verdict.allowed ? "verdict: ALLOWED\n" : "verdict: DENIED\n";
  out += "reason:  " + verdict.reason + "\n";
  FormatDirection(&out, "egress of the source:       ", verdict.egress);
  FormatDirection(&out, "ingress of the destination: ", verdict.ingress);
  return out;
}

std::vector<std::string> PoliciesSelecting(const ClusterState& state, const std::string& pod_key) {
  std::vector<std::string> keys;
  auto pod = state.pods.find(pod_key);
  if (pod == state.pods.end()) return keys;
  for (const auto& [key, policy] : state.network_policies) {
    if (PolicySelects(policy, pod->second)) keys.push_back(key);
  }
  return keys;
}

}  // namespace kubedp::control
