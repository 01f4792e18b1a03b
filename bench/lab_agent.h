// The benchmark's handle on a lab node's agent: writes manifest files into
// its directory the way an operator (or a controller) would, and waits until
// the agent has applied them.
#pragma once

#include <sys/types.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "common/result.h"

namespace kubedp::bench {

class LabAgent {
 public:
  LabAgent(std::string lab, std::string manifest_dir, pid_t pid)
      : lab_(std::move(lab)), manifest_dir_(std::move(manifest_dir)), pid_(pid) {}

  // Writes the file atomically and waits until the agent applied it; returns
  // the milliseconds from the rename to the agent's answer.
  Result<double> Apply(const std::string& name, const std::string& text);
  // Removes a manifest file (if there) and waits until the agent applied that.
  Status Remove(const std::string& name);
  // The agent's `health` cluster counts (cheap: no map walks).
  Result<nlohmann::json> Cluster();
  // The agent's `status`.
  Result<nlohmann::json> AgentStatus();
  Result<double> ResidentMiB();
  // Packets the datapath dropped so far, by reason (the agent's `metrics`).
  Result<std::map<std::string, uint64_t>> Drops();

 private:
  Result<uint64_t> Generation();
  Status WaitForGeneration(uint64_t before);

  std::string lab_, manifest_dir_;
  pid_t pid_;
};

}  // namespace kubedp::bench
