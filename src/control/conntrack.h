// Conntrack as the agent and CLI see it: default timeouts (next to Linux's
// nf_conntrack defaults in docs/conntrack-nat.md), readable rows, filters.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "kubedp/abi.h"

namespace kubedp::control {

kdp_ct_timeouts DefaultCtTimeouts();

std::string CtStateName(uint8_t state);
std::string ProtocolName(uint8_t protocol);

// One flow, oriented from its initiator.
struct CtRow {
  std::string protocol;
  std::string source;  // initiator address
  uint16_t source_port = 0;
  std::string destination;
  uint16_t destination_port = 0;
  std::string state;
  uint64_t packets_original = 0, packets_reply = 0;
  uint64_t bytes_original = 0, bytes_reply = 0;
  int64_t age_seconds = 0;
  int64_t expires_in_seconds = 0;  // negative: expired, waiting for the sweeper
};

CtRow ToCtRow(const kdp_ct_key& key, const kdp_ct_entry& entry, uint64_t now_ns);

struct CtFilter {
  std::optional<std::string> address;   // either end
  std::optional<uint16_t> port;         // either end
  std::optional<std::string> protocol;  // "TCP", "UDP", "ICMP"
  bool Matches(const CtRow& row) const;
};

}  // namespace kubedp::control
