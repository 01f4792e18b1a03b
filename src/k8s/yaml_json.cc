#include "k8s/yaml_json.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <string_view>

#include "k8s/field.h"

namespace kubedp::k8s {
namespace {

using Json = nlohmann::json;

bool IsDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string_view StripSign(std::string_view s) {
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  return s;
}

bool IsFloatLiteral(std::string_view s) {
  s = StripSign(s);
  size_t exp = s.find_first_of("eE");
  std::string_view mantissa = s.substr(0, exp);
  if (exp != std::string_view::npos && !IsDigits(StripSign(s.substr(exp + 1)))) return false;
  size_t dot = mantissa.find('.');
  if (dot == std::string_view::npos) return exp != std::string_view::npos && IsDigits(mantissa);
  std::string_view whole = mantissa.substr(0, dot);
  std::string_view frac = mantissa.substr(dot + 1);
  if (whole.empty() && frac.empty()) return false;
  return (whole.empty() || IsDigits(whole)) && (frac.empty() || IsDigits(frac));
}

std::optional<double> SpecialFloat(std::string_view s) {
  bool negative = !s.empty() && s[0] == '-';
  s = StripSign(s);
  if (s == ".inf" || s == ".Inf" || s == ".INF") {
    return negative ? -std::numeric_limits<double>::infinity()
                    : std::numeric_limits<double>::infinity();
  }
  if (s == ".nan" || s == ".NaN" || s == ".NAN") return std::numeric_limits<double>::quiet_NaN();
  return std::nullopt;
}

Json PlainScalar(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (IsDigits(StripSign(s))) {
    std::string_view text = s[0] == '+' ? std::string_view(s).substr(1) : std::string_view(s);
    int64_t value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec == std::errc() && ptr == text.data() + text.size()) return value;
    return std::strtod(s.c_str(), nullptr);  // too large for 64 bits
  }
  if (auto special = SpecialFloat(s)) return *special;
  if (IsFloatLiteral(s)) return std::strtod(s.c_str(), nullptr);
  return s;
}

Json Convert(const YAML::Node& node, const std::string& path, std::string* problem) {
  auto note = [&](const std::string& what) {
    if (problem->empty()) *problem = path.empty() ? what : path + ": " + what;
  };
  switch (node.Type()) {
    case YAML::NodeType::Sequence: {
      Json out = Json::array();
      size_t i = 0;
      for (const auto& item : node) {
        out.push_back(Convert(item, path + "[" + std::to_string(i++) + "]", problem));
      }
      return out;
    }
    case YAML::NodeType::Map: {
      Json out = Json::object();
      for (const auto& entry : node) {
        if (!entry.first.IsScalar()) {
          note("mapping keys must be strings");
          continue;
        }
        const std::string& key = entry.first.Scalar();
        if (out.contains(key)) {
          // Legal for yaml-cpp, but kubectl rejects it, and silently picking
          // one would hide a mistake.
          note("duplicate key " + Quote(key));
          continue;
        }
        out[key] = Convert(entry.second, path.empty() ? key : path + "." + key, problem);
      }
      return out;
    }
    case YAML::NodeType::Scalar: {
      const std::string& tag = node.Tag();
      if (tag == "!" || tag == "tag:yaml.org,2002:str") return node.Scalar();
      return PlainScalar(node.Scalar());
    }
    default:
      return nullptr;
  }
}

}  // namespace

Json YamlToJson(const YAML::Node& node, std::string* problem) {
  return Convert(node, "", problem);
}

}  // namespace kubedp::k8s
