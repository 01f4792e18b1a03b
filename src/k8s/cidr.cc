#include "k8s/cidr.h"

#include <arpa/inet.h>

#include <charconv>
#include <string>

namespace kubedp::k8s {

bool Cidr::Contains(const Cidr& other) const {
  if (ipv6 != other.ipv6 || other.prefix_len < prefix_len) return false;
  int full_bytes = prefix_len / 8;
  for (int i = 0; i < full_bytes; ++i) {
    if (address[i] != other.address[i]) return false;
  }
  int rest_bits = prefix_len % 8;
  if (rest_bits == 0) return true;
  auto mask = static_cast<uint8_t>(0xff << (8 - rest_bits));
  return (address[full_bytes] & mask) == (other.address[full_bytes] & mask);
}

std::optional<Cidr> ParseCidr(std::string_view text) {
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  std::string ip(text.substr(0, slash));
  std::string_view len_text = text.substr(slash + 1);
  Cidr cidr;
  cidr.ipv6 = ip.find(':') != std::string::npos;
  if (inet_pton(cidr.ipv6 ? AF_INET6 : AF_INET, ip.c_str(), cidr.address.data()) != 1) {
    return std::nullopt;
  }
  // from_chars alone would accept "24x" or an empty length; insist on digits only.
  const char* end = len_text.data() + len_text.size();
  auto [ptr, ec] = std::from_chars(len_text.data(), end, cidr.prefix_len);
  if (len_text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  if (cidr.prefix_len < 0 || cidr.prefix_len > (cidr.ipv6 ? 128 : 32)) return std::nullopt;
  return cidr;
}

}  // namespace kubedp::k8s
