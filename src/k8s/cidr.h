// Just enough CIDR arithmetic to validate NetworkPolicy ipBlocks.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace kubedp::k8s {

struct Cidr {
  bool ipv6 = false;
  std::array<uint8_t, 16> address{};  // network byte order; IPv4 uses the first 4
  int prefix_len = 0;

  // Whether every address of other is also in this prefix (same family only).
  bool Contains(const Cidr& other) const;
};

// Parses "a.b.c.d/n" or "x:y::z/n". Host bits may be set, as the API allows.
std::optional<Cidr> ParseCidr(std::string_view text);

}  // namespace kubedp::k8s
