#include "agent/policy_logger.h"

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "control/policy_oracle.h"

namespace kubedp::agent {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string Rfc3339(int64_t now_ms) {
  std::time_t seconds = now_ms / 1000;
  char text[40];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", std::gmtime(&seconds));
  char millis[8];
  std::snprintf(millis, sizeof(millis), ".%03dZ", static_cast<int>(now_ms % 1000));
  return std::string(text) + millis;
}

// The pod at an address, if the cluster state has one.
const k8s::Pod* PodAt(const k8s::ClusterState& state, const std::string& ip) {
  for (const auto& [key, pod] : state.pods) {
    if (pod.pod_ip == ip && !pod.host_network) return &pod;
  }
  return nullptr;
}

json Side(const k8s::Pod* pod, const std::string& ip) {
  if (!pod) return json{{"instance", ip}};
  json side{{"pod_name", pod->meta.name},
            {"pod_namespace", pod->meta.namespace_},
            {"namespace", pod->meta.namespace_},
            {"instance", ip}};
  for (const char* label : {"app.kubernetes.io/name", "app"}) {
    auto it = pod->meta.labels.find(label);
    if (it != pod->meta.labels.end()) {
      side["workload_name"] = it->second;
      break;
    }
  }
  return side;
}

std::string Key(const k8s::Pod* pod) {
  return pod ? pod->meta.namespace_ + "/" + pod->meta.name : "";
}

}  // namespace

PolicyLogger::PolicyLogger(std::string node_name, std::string path, uint64_t rotate_bytes)
    : node_name_(std::move(node_name)),
      path_(std::move(path)),
      rotate_bytes_(rotate_bytes),
      limiter_(config_.rate_limit),
      denies_(config_.deny_aggregation_seconds) {}

void PolicyLogger::SetConfig(const control::LoggingConfig& config) {
  if (config.deny_aggregation_seconds != config_.deny_aggregation_seconds) {
    denies_ = control::DenyAggregator(config.deny_aggregation_seconds);
  }
  config_ = config;
  limiter_.set_rate(config.rate_limit);
}

json PolicyLogger::Record(const k8s::ClusterState& state, const Connection& connection,
                          const std::string& disposition, const std::string& direction,
                          const std::vector<std::string>& policies, int64_t now_ms) const {
  json named = json::array();
  for (const auto& key : policies) {
    auto slash = key.find('/');
    named.push_back(json{{"namespace", key.substr(0, slash)}, {"name", key.substr(slash + 1)}});
  }
  return json{{"connection",
               {{"src_ip", connection.source},
                {"dest_ip", connection.destination},
                {"src_port", connection.source_port},
                {"dest_port", connection.destination_port},
                {"protocol", connection.protocol},
                {"direction", direction}}},
              {"disposition", disposition},
              {"policies", named},
              {"src", Side(PodAt(state, connection.source), connection.source)},
              {"dest", Side(PodAt(state, connection.destination), connection.destination)},
              {"node_name", node_name_},
              {"timestamp", Rfc3339(now_ms)}};
}

void PolicyLogger::Allow(const k8s::ClusterState& state, const Connection& connection,
                         bool ingress_isolated, int64_t now_ms) {
  if (!config_.allow_log) return;
  const k8s::Pod* source = PodAt(state, connection.source);
  const k8s::Pod* destination = PodAt(state, connection.destination);
  control::ConnectionQuery query{
      .source = {.pod = Key(source), .ip = connection.source},
      .destination = {.pod = Key(destination), .ip = connection.destination},
      .port = connection.destination_port,
      .protocol = connection.protocol};
  control::PolicyVerdict verdict = control::EvaluatePolicy(state, query);
  std::vector<std::string> allowing;
  for (const auto* side : {&verdict.egress, &verdict.ingress}) {
    for (const auto& match : side->allowed_by) allowing.push_back(match.policy);
  }
  if (!control::ShouldLogAllow(config_, state, allowing)) return;
  Emit(
      Record(state, connection, "allow", ingress_isolated ? "ingress" : "egress", allowing, now_ms),
      now_ms);
}

void PolicyLogger::Deny(const k8s::ClusterState& state, const Connection& connection,
                        bool by_ingress, int64_t now_ms) {
  if (!config_.deny_log) return;
  const k8s::Pod* denied = PodAt(state, by_ingress ? connection.destination : connection.source);
  if (!control::ShouldLogDeny(config_, state, denied ? denied->meta.namespace_ : "")) return;
  std::vector<std::string> isolating =
      denied ? control::PoliciesSelecting(state, Key(denied)) : std::vector<std::string>{};
  json record =
      Record(state, connection, "deny", by_ingress ? "ingress" : "egress", isolating, now_ms);
  std::string key = connection.source + ">" + connection.destination + ":" +
                    std::to_string(connection.destination_port) + "/" + connection.protocol;
  denies_.Add(record, key, now_ms);
}

void PolicyLogger::Flush(int64_t now_ms) {
  for (auto& record : denies_.Flush(now_ms)) Emit(std::move(record), now_ms);
}

void PolicyLogger::Emit(json record, int64_t now_ms) {
  if (!limiter_.Allow(now_ms)) return;  // counted as overflow
  record["seq"] = next_seq_++;
  Write(record.dump());
  recent_.push_back(std::move(record));
  while (recent_.size() > kKeptForMonitor) recent_.pop_front();
}

void PolicyLogger::Write(const std::string& line) {
  std::error_code ec;
  if (fs::exists(path_, ec) && fs::file_size(path_, ec) > rotate_bytes_) {
    for (int i = kBackups - 1; i >= 1; --i) {
      fs::rename(path_ + "." + std::to_string(i), path_ + "." + std::to_string(i + 1), ec);
    }
    fs::rename(path_, path_ + ".1", ec);
  }
  fs::create_directories(fs::path(path_).parent_path(), ec);
  std::ofstream(path_, std::ios::app) << line << "\n";
  ++written_;
}

json PolicyLogger::Poll(uint64_t after) const {
  json records = json::array();
  for (const auto& record : recent_) {
    if (record["seq"].get<uint64_t>() > after) records.push_back(record);
  }
  return records;
}

json PolicyLogger::Stats() const {
  return json{{"enabled", config_.Enabled()},
              {"allow", {{"log", config_.allow_log}, {"delegate", config_.allow_delegate}}},
              {"deny", {{"log", config_.deny_log}, {"delegate", config_.deny_delegate}}},
              {"rate_limit", config_.rate_limit},
              {"records", written_},
              {"overflow", limiter_.overflow()},
              {"file", path_}};
}

}  // namespace kubedp::agent
