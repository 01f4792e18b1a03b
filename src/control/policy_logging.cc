#include "control/policy_logging.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>

namespace kubedp::control {
namespace {

bool AnnotationTrue(const k8s::Labels& annotations, const std::string& gke_name,
                    const std::string& kubedp_name) {
  for (const auto& name : {gke_name, kubedp_name}) {
    auto it = annotations.find(name);
    if (it != annotations.end() && it->second == "true") return true;
  }
  return false;
}

Result<bool> Flag(const YAML::Node& node, const char* field, const std::string& where) {
  const YAML::Node value = node[field];
  if (!value) return false;
  try {
    return value.as<bool>();
  } catch (const YAML::Exception&) {
    return Status::Invalid(where + "." + field + ": expected true or false");
  }
}

}  // namespace

Result<LoggingConfig> LoggingConfigFrom(const k8s::ClusterState& state) {
  LoggingConfig config;
  auto it = state.config_maps.find(kLoggingConfigMap);
  if (it == state.config_maps.end()) return config;
  auto text = it->second.data.find("config");
  std::string where = std::string("ConfigMap ") + kLoggingConfigMap + " config";
  if (text == it->second.data.end()) return Status::Invalid(where + ": key missing");
  YAML::Node root;
  try {
    root = YAML::Load(text->second);
  } catch (const YAML::Exception& e) {
    return Status::Invalid(where + ": " + e.what());
  }
  for (auto [section, log, delegate] :
       {std::tuple{"allow", &config.allow_log, &config.allow_delegate},
        std::tuple{"deny", &config.deny_log, &config.deny_delegate}}) {
    const YAML::Node node = root["cluster"][section];
    std::string field = where + ": cluster." + section;
    auto log_flag = Flag(node, "log", field);
    if (!log_flag.ok()) return log_flag.status();
    auto delegate_flag = Flag(node, "delegate", field);
    if (!delegate_flag.ok()) return delegate_flag.status();
    *log = *log_flag;
    *delegate = *delegate_flag;
  }
  try {
    if (root["rateLimit"]) config.rate_limit = root["rateLimit"].as<int>();
    if (root["denyAggregationSeconds"]) {
      config.deny_aggregation_seconds = root["denyAggregationSeconds"].as<int>();
    }
  } catch (const YAML::Exception&) {
    return Status::Invalid(where + ": rateLimit and denyAggregationSeconds must be integers");
  }
  if (config.rate_limit < 1 || config.deny_aggregation_seconds < 1) {
    return Status::Invalid(where + ": rateLimit and denyAggregationSeconds must be at least 1");
  }
  return config;
}

bool ShouldLogAllow(const LoggingConfig& config, const k8s::ClusterState& state,
                    const std::vector<std::string>& allowing_policies) {
  if (!config.allow_log) return false;
  if (!config.allow_delegate) return true;
  return std::any_of(allowing_policies.begin(), allowing_policies.end(), [&](const auto& key) {
    auto it = state.network_policies.find(key);
    return it != state.network_policies.end() &&
           AnnotationTrue(it->second.meta.annotations, kPolicyLoggingAnnotation,
                          "kubedp.io/enable-logging");
  });
}

bool ShouldLogDeny(const LoggingConfig& config, const k8s::ClusterState& state,
                   const std::string& denied_pod_namespace) {
  if (!config.deny_log) return false;
  if (!config.deny_delegate) return true;
  auto it = state.namespaces.find(denied_pod_namespace);
  return it != state.namespaces.end() &&
         AnnotationTrue(it->second.meta.annotations, kNamespaceDenyLoggingAnnotation,
                        "kubedp.io/enable-deny-logging");
}

bool RateLimiter::Allow(int64_t now_ms) {
  if (last_ms_ >= 0) {
    tokens_ = std::min<double>(rate_, tokens_ + (now_ms - last_ms_) * rate_ / 1000.0);
  }
  last_ms_ = now_ms;
  if (tokens_ >= 1.0) {
    tokens_ -= 1.0;
    return true;
  }
  ++overflow_;
  return false;
}

void DenyAggregator::Add(const Json& record, const std::string& key, int64_t now_ms) {
  auto [it, inserted] = pending_.try_emplace(key, Pending{record, now_ms, 0});
  ++it->second.count;
}

std::vector<Json> DenyAggregator::Flush(int64_t now_ms) {
  std::vector<Json> records;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (now_ms - it->second.first_ms < window_ms_) {
      ++it;
      continue;
    }
    Json record = it->second.record;
    record["count"] = it->second.count;
    records.push_back(record);
    it = pending_.erase(it);
  }
  return records;
}

}  // namespace kubedp::control
