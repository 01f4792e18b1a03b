// Policy verdict logging with the semantics operators know from GKE Dataplane
// V2: a cluster-wide config (allow and deny, each with log and delegate),
// delegation by annotations, one record per new connection, a per-node rate
// limit whose overflow is counted, and denies aggregated over a window.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "common/result.h"
#include "k8s/objects.h"

namespace kubedp::control {

using Json = nlohmann::json;

// The ConfigMap kube-system/kubedp-network-logging, key "config" (YAML or JSON):
//   cluster: {allow: {log: true, delegate: false}, deny: {log: true, delegate: false}}
//   rateLimit: 500            # records per second per node
//   denyAggregationSeconds: 5
struct LoggingConfig {
  bool allow_log = false;
  bool allow_delegate = false;
  bool deny_log = false;
  bool deny_delegate = false;
  int rate_limit = 500;
  int deny_aggregation_seconds = 5;
  bool Enabled() const { return allow_log || deny_log; }
};

inline constexpr char kLoggingConfigMap[] = "kube-system/kubedp-network-logging";
// Delegation annotations (GKE's names; kubedp.io/ equivalents are accepted too).
inline constexpr char kPolicyLoggingAnnotation[] = "policy.network.gke.io/enable-logging";
inline constexpr char kNamespaceDenyLoggingAnnotation[] =
    "policy.network.gke.io/enable-deny-logging";

// The config of the cluster state: defaults (off) without the ConfigMap; an
// error naming the field when it is malformed (the caller keeps the last good).
Result<LoggingConfig> LoggingConfigFrom(const k8s::ClusterState& state);

// With delegate, an allow is logged only when one of the allowing policies
// carries the annotation "true".
bool ShouldLogAllow(const LoggingConfig& config, const k8s::ClusterState& state,
                    const std::vector<std::string>& allowing_policies);
// With delegate, a deny is logged only when the namespace of the denied pod
// carries the annotation "true".
bool ShouldLogDeny(const LoggingConfig& config, const k8s::ClusterState& state,
                   const std::string& denied_pod_namespace);

// Token bucket of `rate` records per second (burst of one second's worth).
class RateLimiter {
 public:
  explicit RateLimiter(int rate) : rate_(rate), tokens_(rate) {}
  bool Allow(int64_t now_ms);
  uint64_t overflow() const { return overflow_; }
  void set_rate(int rate) { rate_ = rate; }

 private:
  int rate_;
  double tokens_;
  int64_t last_ms_ = -1;
  uint64_t overflow_ = 0;
};

// Denied connections, counted per (source, destination, port, protocol) over a
// window; each window's first sight becomes one record with the count.
class DenyAggregator {
 public:
  explicit DenyAggregator(int window_seconds) : window_ms_(window_seconds * 1000) {}
  void Add(const Json& record, const std::string& key, int64_t now_ms);
  // Records whose window has ended, with "count" filled in.
  std::vector<Json> Flush(int64_t now_ms);

 private:
  struct Pending {
    Json record;
    int64_t first_ms;
    uint64_t count;
  };
  int64_t window_ms_;
  std::map<std::string, Pending> pending_;
};

}  // namespace kubedp::control
