// Port ranges of the node: parsing "30000-32767" and "a b" (sysctl) forms,
// overlap checks between the NodePort range and the kernel's ephemeral range,
// and merging into net.ipv4.ip_local_reserved_ports.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace kubedp::control {

struct PortRange {
  uint16_t first = 0;
  uint16_t last = 0;  // inclusive
  bool Contains(uint16_t port) const { return port >= first && port <= last; }
  bool operator==(const PortRange&) const = default;
  std::string ToString() const;
};

// "30000-32767" (a flag) or "32768\t60999" (the sysctl's format).
Result<PortRange> ParsePortRange(std::string_view text);
std::optional<PortRange> Overlap(const PortRange& a, const PortRange& b);

// The reserved-ports list with range added, as the sysctl takes it
// ("8080,30000-32767"); unchanged when already covered.
std::string AddReservedRange(std::string_view reserved, const PortRange& range);

}  // namespace kubedp::control
