#include "control/port_ranges.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <sstream>

namespace kubedp::control {
namespace {

Result<uint16_t> ParsePort(std::string_view text, std::string_view whole) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value > 65535 || text.empty()) {
    return Status::Invalid("port range \"" + std::string(whole) + "\": \"" + std::string(text) +
                           "\" is not a port number");
  }
  return static_cast<uint16_t>(value);
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
    text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  return text;
}

}  // namespace

std::string PortRange::ToString() const {
  return first == last ? std::to_string(first) : std::to_string(first) + "-" + std::to_string(last);
}

Result<PortRange> ParsePortRange(std::string_view whole) {
  std::string_view text = Trim(whole);
  size_t split = text.find_first_of("- \t");
  std::string_view first_text = text.substr(0, split);
  std::string_view last_text =
      split == std::string_view::npos ? first_text : Trim(text.substr(split + 1));
  auto first = ParsePort(first_text, whole);
  if (!first.ok()) return first.status();
  auto last = ParsePort(last_text, whole);
  if (!last.ok()) return last.status();
  if (*last < *first) {
    return Status::Invalid("port range \"" + std::string(whole) + "\": end below start");
  }
  return PortRange{*first, *last};
}

std::optional<PortRange> Overlap(const PortRange& a, const PortRange& b) {
  uint16_t first = std::max(a.first, b.first);
  uint16_t last = std::min(a.last, b.last);
  if (first > last) return std::nullopt;
  return PortRange{first, last};
}

std::string AddReservedRange(std::string_view reserved, const PortRange& range) {
  std::string current(Trim(reserved));
  std::stringstream items(current);
  for (std::string item; std::getline(items, item, ',');) {
    auto existing = ParsePortRange(item);
    if (existing.ok() && existing->first <= range.first && existing->last >= range.last) {
      return current;
    }
  }
  return current.empty() ? range.ToString() : current + "," + range.ToString();
}

}  // namespace kubedp::control
