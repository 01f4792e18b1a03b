#include "control/masquerade.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <set>

namespace kubedp::control {
namespace {

constexpr const char* kLinkLocal = "169.254.0.0/16";

Ipv4Cidr MustParse(const char* text) {
  return *Ipv4Cidr::Parse(text);
}

}  // namespace

MasqueradeConfig DefaultMasqueradeConfig() {
  MasqueradeConfig config;
  for (const char* cidr : {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"}) {
    config.non_masquerade_cidrs.push_back(MustParse(cidr));
  }
  return config;
}

Result<int64_t> ParseGoDuration(const std::string& text) {
  if (text.empty()) return Status::Invalid("empty duration");
  double total_ms = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.'))
      ++i;
    if (start == i) return Status::Invalid("'" + text + "' is not a duration (like 60s or 1m30s)");
    std::string number = text.substr(start, i - start);
    if (number.find_first_of("0123456789") == std::string::npos ||
        number.find('.') != number.rfind('.')) {
      return Status::Invalid("'" + text + "' is not a duration (like 60s or 1m30s)");
    }
    double value = std::stod(number);
    size_t unit_start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    std::string unit = text.substr(unit_start, i - unit_start);
    double scale = unit == "ms"  ? 1
                   : unit == "s" ? 1e3
                   : unit == "m" ? 6e4
                   : unit == "h" ? 3.6e6
                                 : 0;
    if (scale == 0) {
      return Status::Invalid("'" + text + "': unit '" + unit + "' is not one of ms, s, m, h");
    }
    total_ms += value * scale;
  }
  return static_cast<int64_t>(total_ms);
}

Result<MasqueradeConfig> MasqueradeConfigFrom(const k8s::ClusterState& state) {
  auto it = state.config_maps.find(kMasqConfigMap);
  if (it == state.config_maps.end()) return DefaultMasqueradeConfig();
  std::string where = std::string("ConfigMap ") + kMasqConfigMap;
  auto text = it->second.data.find("config");
  if (text == it->second.data.end()) return Status::Invalid(where + ": data has no key 'config'");
  where += " config";
  YAML::Node root;
  try {
    root = YAML::Load(text->second);  // YAML is a superset of the JSON form
  } catch (const YAML::Exception& e) {
    return Status::Invalid(where + ": " + e.what());
  }
  MasqueradeConfig config = DefaultMasqueradeConfig();
  config.source = kMasqConfigMap;
  if (!root || root.IsNull()) return config;
  if (!root.IsMap()) return Status::Invalid(where + ": expected a mapping of fields");
  static const std::set<std::string> kKnown = {"nonMasqueradeCIDRs", "masqLinkLocal",
                                               "masqLinkLocalIPv6", "resyncInterval"};
  for (const auto& field : root) {
    std::string name = field.first.as<std::string>("");
    if (!kKnown.contains(name)) return Status::Invalid(where + ": unknown field '" + name + "'");
  }
  if (const YAML::Node cidrs = root["nonMasqueradeCIDRs"]; cidrs && !cidrs.IsNull()) {
    if (!cidrs.IsSequence()) return Status::Invalid(where + ": nonMasqueradeCIDRs must be a list");
    config.non_masquerade_cidrs.clear();
    for (size_t i = 0; i < cidrs.size(); ++i) {
      std::string field = where + ": nonMasqueradeCIDRs[" + std::to_string(i) + "]";
      std::string value = cidrs[i].IsScalar() ? cidrs[i].Scalar() : "";
      // IPv6 ranges are valid for ip-masq-agent; this datapath is IPv4 only.
      if (value.find(':') != std::string::npos) continue;
      auto cidr = Ipv4Cidr::Parse(value);
      if (!cidr.ok()) return Status::Invalid(field + ": " + cidr.status().message());
      config.non_masquerade_cidrs.push_back(*cidr);
    }
  }
  for (auto [name, target] : {std::pair{"masqLinkLocal", &config.masq_link_local}}) {
    if (const YAML::Node flag = root[name]; flag && !flag.IsNull()) {
      try {
        *target = flag.as<bool>();
      } catch (const YAML::Exception&) {
        return Status::Invalid(where + ": " + name + " must be true or false");
      }
    }
  }
  if (const YAML::Node resync = root["resyncInterval"]; resync && !resync.IsNull()) {
    auto ms = ParseGoDuration(resync.as<std::string>(""));
    if (!ms.ok()) return Status::Invalid(where + ": resyncInterval: " + ms.status().message());
    if (*ms < 1000) return Status::Invalid(where + ": resyncInterval must be at least 1s");
    config.resync_interval_ms = *ms;
  }
  return config;
}

std::vector<Ipv4Cidr> NoMasqueradePrefixes(const MasqueradeConfig& config) {
  std::vector<Ipv4Cidr> prefixes = config.non_masquerade_cidrs;
  if (!config.masq_link_local) prefixes.push_back(MustParse(kLinkLocal));
  return prefixes;
}

}  // namespace kubedp::control
