// IPv4 address, CIDR and MAC helpers. Addresses are uint32_t in host byte
// order so that arithmetic (next address, range checks) is plain integer math;
// convert with htonl() only at the kernel/BPF boundary.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace kubedp {

// Parses dotted-quad "a.b.c.d" strictly: exactly four decimal octets 0-255,
// no leading zeros (inet_aton would read "010" as octal 8), no whitespace.
Result<uint32_t> ParseIpv4(std::string_view text);
std::string FormatIpv4(uint32_t host_order);

struct Ipv4Cidr {
  uint32_t network = 0;  // host byte order; host bits are always zero
  uint8_t prefix_len = 0;

  // Parses "a.b.c.d/n". Host bits set is an error rather than silently
  // masked: a typo'd range must not quietly become a different one.
  static Result<Ipv4Cidr> Parse(std::string_view text);

  uint32_t Mask() const;
  bool Contains(uint32_t host_order) const;
  uint32_t Broadcast() const;
  uint64_t Size() const;  // number of addresses, 2^(32 - prefix_len)
  std::string ToString() const;

  friend bool operator==(const Ipv4Cidr&, const Ipv4Cidr&) = default;
};

using MacAddress = std::array<uint8_t, 6>;

// Parses "aa:bb:cc:dd:ee:ff" (either case, colons only, two hex digits each).
Result<MacAddress> ParseMac(std::string_view text);
// Lowercase and colon separated, the form iproute2 and the kernel print.
std::string FormatMac(const MacAddress& mac);

}  // namespace kubedp
