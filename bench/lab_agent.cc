#include "bench/lab_agent.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "api/rpc.h"
#include "lab/lab.h"

namespace kubedp::bench {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

Result<double> LabAgent::Apply(const std::string& name, const std::string& text) {
  auto before = Generation();
  if (!before.ok()) return before.status();
  std::string path = manifest_dir_ + "/" + name;
  std::string staging = path + ".tmp~";  // "~": not a manifest until renamed
  {
    std::ofstream out(staging);
    out << text;
    if (!out) return Status::Error(EIO, "cannot write " + staging);
  }
  auto start = Clock::now();
  if (rename(staging.c_str(), path.c_str()) != 0) {
    return Status::FromErrno(errno, "renaming into " + path);
  }
  KUBEDP_RETURN_IF_ERROR(WaitForGeneration(*before));
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

Status LabAgent::Remove(const std::string& name) {
  auto before = Generation();
  if (!before.ok()) return before.status();
  if (unlink((manifest_dir_ + "/" + name).c_str()) != 0) return Status::Ok();
  return WaitForGeneration(*before);
}

Result<Json> LabAgent::Cluster() {
  auto health = api::Call(lab::NodeSocket(lab_, "node1"), "health", Json::object(), 60000);
  if (!health.ok()) return health.status();
  return (*health)["cluster"];
}

Result<Json> LabAgent::AgentStatus() {
  return api::Call(lab::NodeSocket(lab_, "node1"), "status", Json::object(), 60000);
}

Result<std::map<std::string, uint64_t>> LabAgent::Drops() {
  auto metrics = api::Call(lab::NodeSocket(lab_, "node1"), "metrics", Json::object(), 60000);
  if (!metrics.ok()) return metrics.status();
  std::map<std::string, uint64_t> drops;
  for (const auto& row : *metrics) {
    if (row.value("drop", false)) drops[row["reason"]] += row.value("packets", uint64_t{0});
  }
  return drops;
}

Result<double> LabAgent::ResidentMiB() {
  std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return Status::Error(ENOENT, "no VmRSS for the agent (pid " + std::to_string(pid_) + ")");
}

Result<uint64_t> LabAgent::Generation() {
  auto cluster = Cluster();
  if (!cluster.ok()) return cluster.status();
  return cluster->value("generation", uint64_t{0});
}

Status LabAgent::WaitForGeneration(uint64_t before) {
  // Long: iptables-sized states take the agent a while, and a change that
  // fails must not hang the suite.
  auto deadline = Clock::now() + std::chrono::seconds(120);
  while (Clock::now() < deadline) {
    auto now = Generation();
    if (now.ok() && *now > before) return Status::Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return Status::Error(ETIMEDOUT, "the agent did not apply the change within 120 s");
}

}  // namespace kubedp::bench
