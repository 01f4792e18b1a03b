#include "control/policy_compiler.h"

#include <algorithm>
#include <set>

#include "common/ip.h"
#include "control/policy_match.h"
#include "k8s/cidr.h"

namespace kubedp::control {
namespace {

constexpr uint8_t kTcp = 6, kUdp = 17, kSctp = 132;

uint8_t ProtocolNumber(const std::string& name) {
  std::string upper = UpperCase(name);
  if (upper == "UDP") return kUdp;
  if (upper == "SCTP") return kSctp;
  return kTcp;
}

uint32_t MaskOf(uint8_t len) {
  return len == 0 ? 0 : ~uint32_t{0} << (32 - len);
}
uint16_t Mask16(uint8_t len) {
  return len == 0 ? 0 : static_cast<uint16_t>(0xffff << (16 - len));
}

bool Contains(const Prefix32& outer, const Prefix32& inner) {
  return outer.len <= inner.len && (inner.network & MaskOf(outer.len)) == outer.network;
}

// One compiled rule: where it may come from or go to, and on which ports.
struct CompiledRule {
  std::vector<Prefix32> remotes;
  bool any_port = false;
  std::vector<std::pair<uint8_t, Prefix16>> ports;  // protocol, port prefix
};

std::optional<Prefix32> ParseIpv4Prefix(const std::string& text) {
  auto cidr = Ipv4Cidr::Parse(text);
  if (cidr.ok()) return Prefix32{cidr->network, cidr->prefix_len};
  // Host bits set are rejected by the decoder; an IPv6 block never applies here.
  return std::nullopt;
}

// Pods of the state with an IPv4 address, as candidates for selector peers.
struct PodAddress {
  const k8s::Pod* pod;
  uint32_t ip;
};

std::vector<PodAddress> AddressedPods(const k8s::ClusterState& state) {
  std::vector<PodAddress> pods;
  for (const auto& [key, pod] : state.pods) {
    if (pod.host_network) continue;
    auto ip = ParseIpv4(pod.pod_ip);
    if (ip.ok()) pods.push_back({&pod, *ip});
  }
  return pods;
}

std::vector<Prefix32> PeerRemotes(const k8s::ClusterState& state, const k8s::NetworkPolicy& policy,
                                  const k8s::PolicyPeer& peer,
                                  const std::vector<PodAddress>& pods) {
  std::vector<Prefix32> remotes;
  if (peer.ip_block.has_value()) {
    auto block = ParseIpv4Prefix(peer.ip_block->cidr);
    if (!block) return remotes;
    std::vector<Prefix32> except;
    for (const auto& text : peer.ip_block->except) {
      if (auto e = ParseIpv4Prefix(text)) except.push_back(*e);
    }
    return SubtractPrefixes(*block, except);
  }
  for (const auto& candidate : pods) {
    if (SelectorPeerMatchesPod(state, policy, peer, *candidate.pod)) {
      remotes.push_back({candidate.ip, 32});
    }
  }
  return remotes;
}

bool RemoteMatches(const std::vector<Prefix32>& remotes, uint32_t ip) {
  return std::any_of(remotes.begin(), remotes.end(), [&](const Prefix32& p) {
    return Contains(p, {ip, 32});
  });
}

// A rule becomes one compiled rule for its numeric and protocol-only ports (and
// named ports resolved against the selected pod, for ingress), plus, for
// egress named ports, one compiled rule per port number the name resolves to
// on the destination pods (a name means a different number per pod).
std::vector<CompiledRule> CompileRule(const k8s::ClusterState& state,
                                      const k8s::NetworkPolicy& policy, const k8s::PolicyRule& rule,
                                      uint8_t direction, const k8s::Pod& subject,
                                      const std::vector<PodAddress>& pods) {
  CompiledRule base;
  if (rule.peers.empty()) {
    base.remotes.push_back({0, 0});
  } else {
    for (const auto& peer : rule.peers) {
      auto remotes = PeerRemotes(state, policy, peer, pods);
      base.remotes.insert(base.remotes.end(), remotes.begin(), remotes.end());
    }
  }
  base.any_port = rule.ports.empty();
  std::map<std::pair<uint8_t, uint16_t>, std::vector<Prefix32>> named_egress;
  for (const auto& entry : rule.ports) {
    uint8_t protocol = ProtocolNumber(entry.protocol);
    if (!entry.port.has_value() || !entry.port->IsSet()) {
      base.ports.push_back({protocol, {0, 0}});
    } else if (entry.port->number.has_value()) {
      int first = *entry.port->number;
      int last = entry.end_port.value_or(first);
      for (const auto& p : RangeToPrefixes(first, last)) base.ports.push_back({protocol, p});
    } else if (direction == KDP_POLICY_INGRESS) {
      for (const auto& cp : subject.ports) {
        if (cp.name == entry.port->name && ProtocolNumber(cp.protocol) == protocol) {
          base.ports.push_back({protocol, {static_cast<uint16_t>(cp.port), 16}});
        }
      }
    } else {
      for (const auto& candidate : pods) {
        if (!RemoteMatches(base.remotes, candidate.ip)) continue;
        for (const auto& cp : candidate.pod->ports) {
          if (cp.name == entry.port->name && ProtocolNumber(cp.protocol) == protocol) {
            named_egress[{protocol, static_cast<uint16_t>(cp.port)}].push_back({candidate.ip, 32});
          }
        }
      }
    }
  }
  std::vector<CompiledRule> compiled;
  if (base.any_port || !base.ports.empty()) compiled.push_back(base);
  for (auto& [port, remotes] : named_egress) {
    compiled.push_back(CompiledRule{remotes, false, {{port.first, {port.second, 16}}}});
  }
  return compiled;
}

// Each prefix's bits must hold the bits of every prefix containing it: the
// LPM lookup returns only the longest match.
template <typename Key, typename ContainsFn>
void CloseOverContainingPrefixes(std::map<Key, uint64_t>& table, ContainsFn contains) {
  std::map<Key, uint64_t> closed = table;
  for (auto& [inner, bits] : closed) {
    for (const auto& [outer, outer_bits] : table) {
      if (contains(outer, inner)) bits |= outer_bits;
    }
  }
  table = std::move(closed);
}

// The same for the peer table, by looking up each shorter prefix of an entry
// (at most 32) instead of comparing every pair: a policy with thousands of
// address rules would make the pairwise walk take seconds.
void ClosePeerPrefixes(std::map<PeerPrefix, uint64_t>& table) {
  std::map<PeerPrefix, uint64_t> closed = table;
  for (auto& [inner, bits] : closed) {
    for (uint8_t len = 0; len < inner.prefix_len; ++len) {
      uint32_t mask = len == 0 ? 0 : ~uint32_t{0} << (32 - len);
      auto outer = table.find({inner.endpoint_id, inner.direction, inner.network & mask, len});
      if (outer != table.end()) bits |= outer->second;
    }
  }
  table = std::move(closed);
}

// Rules with the same ports share a rule bit: "some rule admits this peer on
// this port" is the same question when their peers are pooled. This keeps
// the 64 bits per endpoint and direction for distinct port sets, so
// thousands of address rules on the same ports fit.
using PortSignature =
    std::pair<bool, std::vector<std::pair<uint8_t, std::pair<uint16_t, uint8_t>>>>;
PortSignature SignatureOf(const CompiledRule& rule) {
  PortSignature signature{rule.any_port, {}};
  for (const auto& [protocol, p] : rule.ports) {
    signature.second.push_back({protocol, {p.value, p.len}});
  }
  std::sort(signature.second.begin(), signature.second.end());
  return signature;
}

bool PortContains(const PortPrefix& outer, const PortPrefix& inner) {
  if (outer.endpoint_id != inner.endpoint_id || outer.direction != inner.direction) return false;
  if (outer.any_protocol) return true;
  if (inner.any_protocol || outer.protocol != inner.protocol) return false;
  return outer.prefix_len <= inner.prefix_len &&
         (inner.port & Mask16(outer.prefix_len)) == outer.port;
}

void CompileDirection(const k8s::ClusterState& state, const LocalEndpoint& endpoint,
                      const k8s::Pod& pod, uint8_t direction, const std::vector<PodAddress>& pods,
                      PolicyTables& tables) {
  std::map<PortSignature, int> bits;  // by the rules' ports
  bool isolated = false;
  for (const auto& [key, policy] : state.network_policies) {
    bool affects = direction == KDP_POLICY_INGRESS ? policy.affects_ingress : policy.affects_egress;
    if (!affects || !PolicySelects(policy, pod)) continue;
    isolated = true;
    const auto& rules = direction == KDP_POLICY_INGRESS ? policy.ingress : policy.egress;
    for (const auto& rule : rules) {
      for (const auto& compiled : CompileRule(state, policy, rule, direction, pod, pods)) {
        auto slot = bits.try_emplace(SignatureOf(compiled), static_cast<int>(bits.size())).first;
        if (slot->second >= kMaxRulesPerDirection) {
          tables.errors.push_back(endpoint.pod + ": more than 64 distinct port sets in " +
                                  (direction == KDP_POLICY_INGRESS ? "ingress" : "egress") +
                                  " rules; the rest deny (policy " + key + ")");
          continue;
        }
        uint64_t mask = uint64_t{1} << slot->second;
        for (const auto& r : compiled.remotes) {
          tables.peers[{endpoint.endpoint_id, direction, r.network, r.len}] |= mask;
        }
        if (compiled.any_port) {
          tables.ports[{endpoint.endpoint_id, direction, true, 0, 0, 0}] |= mask;
        }
        for (const auto& [protocol, p] : compiled.ports) {
          tables.ports[{endpoint.endpoint_id, direction, false, protocol, p.value, p.len}] |= mask;
        }
      }
    }
  }
  if (isolated) {
    tables.endpoint_flags[endpoint.endpoint_id] |= direction == KDP_POLICY_INGRESS
                                                       ? KDP_ENDPOINT_F_INGRESS_ISOLATED
                                                       : KDP_ENDPOINT_F_EGRESS_ISOLATED;
  }
}

}  // namespace

std::vector<Prefix16> RangeToPrefixes(uint16_t first, uint16_t last) {
  std::vector<Prefix16> prefixes;
  uint32_t start = first;
  while (start <= last) {
    // The largest aligned block starting at start that ends within the range.
    uint8_t len = 16;
    while (len > 0) {
      uint32_t size = uint32_t{1} << (16 - (len - 1));
      if ((start & (size - 1)) != 0 || start + size - 1 > last) break;
      --len;
    }
    prefixes.push_back({static_cast<uint16_t>(start), len});
    start += uint32_t{1} << (16 - len);
  }
  return prefixes;
}

std::vector<Prefix32> SubtractPrefixes(Prefix32 block, const std::vector<Prefix32>& except) {
  for (const auto& e : except) {
    if (Contains(e, block)) return {};
  }
  bool overlapped = std::any_of(except.begin(), except.end(),
                                [&](const Prefix32& e) { return Contains(block, e); });
  if (!overlapped) return {block};
  // Split in halves until no except cuts through a piece.
  uint8_t len = block.len + 1;
  Prefix32 low{block.network, len};
  Prefix32 high{block.network | (uint32_t{1} << (32 - len)), len};
  auto result = SubtractPrefixes(low, except);
  auto upper = SubtractPrefixes(high, except);
  result.insert(result.end(), upper.begin(), upper.end());
  return result;
}

PolicyTables CompilePolicy(const k8s::ClusterState& state,
                           const std::vector<LocalEndpoint>& endpoints) {
  PolicyTables tables;
  std::vector<PodAddress> pods = AddressedPods(state);
  for (const auto& endpoint : endpoints) {
    auto it = state.pods.find(endpoint.pod);
    if (it == state.pods.end()) continue;  // not in the cluster state (yet): open
    k8s::Pod pod = it->second;
    // The address the datapath knows is the endpoint's, whatever the status says.
    pod.pod_ip = FormatIpv4(endpoint.ip);
    CompileDirection(state, endpoint, pod, KDP_POLICY_INGRESS, pods, tables);
    CompileDirection(state, endpoint, pod, KDP_POLICY_EGRESS, pods, tables);
  }
  ClosePeerPrefixes(tables.peers);
  CloseOverContainingPrefixes(tables.ports, PortContains);
  return tables;
}

bool TablesAllow(const PolicyTables& tables, uint32_t endpoint_id, uint8_t direction,
                 uint32_t remote_ip, uint8_t protocol, uint16_t port) {
  auto flags = tables.endpoint_flags.find(endpoint_id);
  uint32_t isolated = direction == KDP_POLICY_INGRESS ? KDP_ENDPOINT_F_INGRESS_ISOLATED
                                                      : KDP_ENDPOINT_F_EGRESS_ISOLATED;
  if (flags == tables.endpoint_flags.end() || !(flags->second & isolated)) return true;

  const uint64_t* peer_bits = nullptr;
  int peer_len = -1;
  for (const auto& [key, bits] : tables.peers) {
    if (key.endpoint_id == endpoint_id && key.direction == direction &&
        Contains({key.network, key.prefix_len}, {remote_ip, 32}) && key.prefix_len > peer_len) {
      peer_bits = &bits;
      peer_len = key.prefix_len;
    }
  }
  const uint64_t* port_bits = nullptr;
  int port_len = -1;
  PortPrefix exact{endpoint_id, direction, false, protocol, port, 16};
  for (const auto& [key, bits] : tables.ports) {
    int len = key.any_protocol ? 0 : 1 + key.prefix_len;
    if (PortContains(key, exact) && len > port_len) {
      port_bits = &bits;
      port_len = len;
    }
  }
  return peer_bits && port_bits && (*peer_bits & *port_bits) != 0;
}

}  // namespace kubedp::control
