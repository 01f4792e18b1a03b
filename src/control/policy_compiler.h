// Compiles NetworkPolicy into the datapath's tables: for each local endpoint
// and direction, the rule bits of remote prefixes and of protocol/port
// prefixes (see kdp_pol_peers/kdp_pol_ports in the ABI). Pure; TablesAllow
// answers a query from the tables exactly as the kernel would, so tests can
// hold the compiler against the oracle.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "k8s/objects.h"
#include "kubedp/abi.h"

namespace kubedp::control {

struct LocalEndpoint {
  std::string pod;  // "namespace/name"
  uint32_t endpoint_id = 0;
  uint32_t ip = 0;  // host byte order
};

struct PeerPrefix {
  uint32_t endpoint_id;
  uint8_t direction;  // kdp_policy_direction
  uint32_t network;   // host byte order
  uint8_t prefix_len;
  auto operator<=>(const PeerPrefix&) const = default;
};

struct PortPrefix {
  uint32_t endpoint_id;
  uint8_t direction;
  bool any_protocol;  // a rule without ports: every protocol and port
  uint8_t protocol;
  uint16_t port;
  uint8_t prefix_len;  // of the port
  auto operator<=>(const PortPrefix&) const = default;
};

struct PolicyTables {
  std::map<PeerPrefix, uint64_t> peers;
  std::map<PortPrefix, uint64_t> ports;
  std::map<uint32_t, uint32_t> endpoint_flags;  // KDP_ENDPOINT_F_*_ISOLATED
  std::vector<std::string> errors;              // e.g. more rules than bits
};

inline constexpr int kMaxRulesPerDirection = 64;

PolicyTables CompilePolicy(const k8s::ClusterState& state,
                           const std::vector<LocalEndpoint>& endpoints);

// The datapath's decision from the tables (LPM lookups and the bit test).
bool TablesAllow(const PolicyTables& tables, uint32_t endpoint_id, uint8_t direction,
                 uint32_t remote_ip, uint8_t protocol, uint16_t port);

// Helpers exposed for tests.
struct Prefix16 {
  uint16_t value;
  uint8_t len;
  bool operator==(const Prefix16&) const = default;
};
std::vector<Prefix16> RangeToPrefixes(uint16_t first, uint16_t last);
struct Prefix32 {
  uint32_t network;
  uint8_t len;
  bool operator==(const Prefix32&) const = default;
};
std::vector<Prefix32> SubtractPrefixes(Prefix32 block, const std::vector<Prefix32>& except);

}  // namespace kubedp::control
