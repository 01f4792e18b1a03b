#include "common/ip.h"

#include <algorithm>
#include <cstdio>
#include <optional>

namespace kubedp {
namespace {

std::string Quote(std::string_view text) {
  return "\"" + std::string(text) + "\"";
}

// Parses a canonical decimal number no larger than max_value. On failure
// returns why, phrased to follow the name of the field ("octet 2 \"x\" ...").
Result<uint32_t> ParseDecimal(std::string_view text, uint32_t max_value) {
  if (text.empty()) return Status::Invalid("is empty");
  for (char c : text) {
    if (c < '0' || c > '9') return Status::Invalid(Quote(text) + " is not a decimal number");
  }
  if (text.size() > 1 && text[0] == '0') {
    return Status::Invalid(Quote(text) + " has a leading zero (ambiguous: octal or decimal?)");
  }
  uint32_t value = 0;
  for (char c : text) {
    // Stopping as soon as the limit is passed keeps long digit strings from
    // overflowing (the limits used here are far below UINT32_MAX / 10).
    value = value * 10 + static_cast<uint32_t>(c - '0');
    if (value > max_value) {
      return Status::Invalid(Quote(text) + " is out of range 0-" + std::to_string(max_value));
    }
  }
  return value;
}

// Parses the address without the "invalid IPv4 address" prefix so that CIDR
// parsing can report the same reason under its own prefix.
Result<uint32_t> ParseIpv4Bare(std::string_view text) {
  if (std::count(text.begin(), text.end(), '.') != 3) {
    return Status::Invalid("expected 4 dot-separated octets, e.g. 10.244.0.1");
  }
  uint32_t address = 0;
  for (int i = 1; i <= 4; ++i) {
    const size_t dot = text.find('.');
    Result<uint32_t> octet = ParseDecimal(text.substr(0, dot), 255);
    if (!octet.ok()) {
      return Status::Invalid("octet " + std::to_string(i) + " " + octet.status().message());
    }
    address = (address << 8) | *octet;
    text.remove_prefix(dot == std::string_view::npos ? text.size() : dot + 1);
  }
  return address;
}

}  // namespace

Result<uint32_t> ParseIpv4(std::string_view text) {
  Result<uint32_t> address = ParseIpv4Bare(text);
  if (!address.ok()) return address.status().Context("invalid IPv4 address " + Quote(text));
  return address;
}

std::string FormatIpv4(uint32_t host_order) {
  return std::to_string(host_order >> 24) + "." + std::to_string((host_order >> 16) & 0xff) + "." +
         std::to_string((host_order >> 8) & 0xff) + "." + std::to_string(host_order & 0xff);
}

Result<Ipv4Cidr> Ipv4Cidr::Parse(std::string_view text) {
  const std::string where = "invalid CIDR " + Quote(text);
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos) {
    return Status::Invalid(where + ": expected address/prefix length, e.g. 10.244.0.0/16");
  }
  Result<uint32_t> address = ParseIpv4Bare(text.substr(0, slash));
  if (!address.ok()) return address.status().Context(where);
  Result<uint32_t> prefix = ParseDecimal(text.substr(slash + 1), 32);
  if (!prefix.ok()) return Status::Invalid(where + ": prefix length " + prefix.status().message());

  Ipv4Cidr cidr{*address, static_cast<uint8_t>(*prefix)};
  if ((cidr.network & ~cidr.Mask()) != 0) {
    cidr.network &= cidr.Mask();
    return Status::Invalid(where + ": host bits set; did you mean " + cidr.ToString() + "?");
  }
  return cidr;
}

uint32_t Ipv4Cidr::Mask() const {
  // Shifting a 32-bit value by 32 is undefined, so /0 is special-cased.
  return prefix_len == 0 ? 0 : ~uint32_t{0} << (32 - prefix_len);
}

bool Ipv4Cidr::Contains(uint32_t host_order) const {
  return (host_order & Mask()) == network;
}

uint32_t Ipv4Cidr::Broadcast() const {
  return network | ~Mask();
}

uint64_t Ipv4Cidr::Size() const {
  return uint64_t{1} << (32 - prefix_len);
}

std::string Ipv4Cidr::ToString() const {
  return FormatIpv4(network) + "/" + std::to_string(prefix_len);
}

Result<MacAddress> ParseMac(std::string_view text) {
  auto hex_digit = [](char c) -> std::optional<uint8_t> {
    if (c >= '0' && c <= '9') return static_cast<uint8_t>(c - '0');
    if (c >= 'a' && c <= 'f') return static_cast<uint8_t>(c - 'a' + 10);
    if (c >= 'A' && c <= 'F') return static_cast<uint8_t>(c - 'A' + 10);
    return std::nullopt;
  };
  // "xx:" five times plus "xx": every position is fixed, so check by index.
  MacAddress mac{};
  bool valid = text.size() == 17;
  for (size_t i = 0; valid && i < mac.size(); ++i) {
    const std::optional<uint8_t> high = hex_digit(text[i * 3]);
    const std::optional<uint8_t> low = hex_digit(text[i * 3 + 1]);
    const bool separator_ok = i == mac.size() - 1 || text[i * 3 + 2] == ':';
    valid = high && low && separator_ok;
    if (valid) mac[i] = static_cast<uint8_t>((*high << 4) | *low);
  }
  if (!valid) {
    return Status::Invalid("invalid MAC address " + Quote(text) +
                           ": expected 6 colon-separated hex bytes, e.g. 02:42:ac:11:00:02");
  }
  return mac;
}

std::string FormatMac(const MacAddress& mac) {
  char buf[18];
  std::snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
                mac[4], mac[5]);
  return buf;
}

}  // namespace kubedp
