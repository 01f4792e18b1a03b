// Masquerade configuration with ip-masq-agent's semantics: the ConfigMap
// kube-system/ip-masq-agent, key "config", YAML or JSON, with
//   nonMasqueradeCIDRs  destinations that pods reach with their own address
//   masqLinkLocal       masquerade to 169.254.0.0/16 too (default false)
//   resyncInterval      a Go duration ("60s", "1m30s"): how often the agent
//                       re-checks the datapath against the config
// Without the ConfigMap the defaults hold: the RFC 1918 ranges, and
// 169.254.0.0/16 unless masqLinkLocal. A field the config leaves out keeps
// its default (an explicit empty list means "masquerade everything").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/ip.h"
#include "common/result.h"
#include "k8s/objects.h"

namespace kubedp::control {

inline constexpr const char* kMasqConfigMap = "kube-system/ip-masq-agent";

struct MasqueradeConfig {
  std::vector<Ipv4Cidr> non_masquerade_cidrs;
  bool masq_link_local = false;
  int64_t resync_interval_ms = 60'000;
  std::string source = "defaults";  // or the ConfigMap's key
  bool operator==(const MasqueradeConfig&) const = default;
};

MasqueradeConfig DefaultMasqueradeConfig();

// The config the cluster state asks for. A bad config is an error that names
// the ConfigMap and field; the caller keeps the last good one.
Result<MasqueradeConfig> MasqueradeConfigFrom(const k8s::ClusterState& state);

// The destinations that are not masqueraded, as written to kdp_no_masq:
// the configured CIDRs plus 169.254.0.0/16 unless masqLinkLocal.
std::vector<Ipv4Cidr> NoMasqueradePrefixes(const MasqueradeConfig& config);

// Go's time.ParseDuration for the units a config uses: "ms", "s", "m", "h",
// combined ("1m30s") and fractional ("1.5s"). Milliseconds.
Result<int64_t> ParseGoDuration(const std::string& text);

}  // namespace kubedp::control
