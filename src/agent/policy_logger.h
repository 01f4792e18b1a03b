// Connection logs of policy verdicts: one JSON line per new connection (not per
// packet), written to a rotated file and kept for `kubedp monitor`.
#pragma once

#include <cstdint>
#include <deque>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "control/policy_logging.h"
#include "k8s/objects.h"

namespace kubedp::agent {

struct Connection {
  std::string source, destination;  // dotted quads
  uint16_t source_port = 0, destination_port = 0;
  std::string protocol;  // TCP, UDP, SCTP, ICMP
};

class PolicyLogger {
 public:
  static constexpr uint64_t kRotateBytes = 10 * 1024 * 1024;
  static constexpr int kBackups = 5;
  static constexpr size_t kKeptForMonitor = 2000;

  PolicyLogger(std::string node_name, std::string path, uint64_t rotate_bytes = kRotateBytes);
  void SetConfig(const control::LoggingConfig& config);

  // A new connection policy let through; ingress_isolated says the
  // destination's ingress policy was consulted (the record's direction).
  void Allow(const k8s::ClusterState& state, const Connection& connection, bool ingress_isolated,
             int64_t now_ms);
  // A connection denied by the source's egress or the destination's ingress.
  void Deny(const k8s::ClusterState& state, const Connection& connection, bool by_ingress,
            int64_t now_ms);
  // Emits aggregated denies whose window ended.
  void Flush(int64_t now_ms);

  // Records after sequence number `after` (for `kubedp monitor`).
  nlohmann::json Poll(uint64_t after) const;
  nlohmann::json Stats() const;

 private:
  nlohmann::json Record(const k8s::ClusterState& state, const Connection& connection,
                        const std::string& disposition, const std::string& direction,
                        const std::vector<std::string>& policies, int64_t now_ms) const;
  void Emit(nlohmann::json record, int64_t now_ms);
  void Write(const std::string& line);

  std::string node_name_;
  std::string path_;
  uint64_t rotate_bytes_;
  control::LoggingConfig config_;
  control::RateLimiter limiter_;
  control::DenyAggregator denies_;
  std::deque<nlohmann::json> recent_;
  uint64_t next_seq_ = 1;
  uint64_t written_ = 0;
};

}  // namespace kubedp::agent
