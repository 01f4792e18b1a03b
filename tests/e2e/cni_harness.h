// Calls the real kubedp-cni the way a container runtime does: in the node's
// network namespace, with the CNI environment and the network config on stdin.
#pragma once

#include <string>

#include "api/rpc.h"
#include "common/result.h"
#include "lab/lab.h"
#include "lab/process.h"

namespace kubedp::testing {

struct CniOutcome {
  int exit_code = -1;
  api::Json out;  // the plugin's stdout, parsed (null when empty)
};

inline std::string NetnsPath(const std::string& name) {
  return "/run/netns/" + name;
}

// The pod namespace of test pod `index`, named so that `lab down` removes it.
inline std::string PodNetnsName(const std::string& lab, int index) {
  return lab::PodNetns(lab, "t", "p" + std::to_string(index));
}

inline std::string ContainerOf(int index) {
  return "c" + std::to_string(index) + "0123456789ab";
}

inline Status MakeNetns(const std::string& name) {
  auto r = lab::RunCommand({.argv = {"/usr/bin/env", "ip", "netns", "add", name}}, "");
  if (!r.ok()) return r.status();
  return r->exit_code == 0 ? Status::Ok() : Status::Error(EIO, "ip netns add " + name);
}

inline Status DeleteNetns(const std::string& name) {
  auto r = lab::RunCommand({.argv = {"/usr/bin/env", "ip", "netns", "delete", name}}, "");
  if (!r.ok()) return r.status();
  return r->exit_code == 0 ? Status::Ok() : Status::Error(EIO, "ip netns delete " + name);
}

inline CniOutcome Cni(const std::string& lab, const std::string& verb, const std::string& container,
                      const std::string& netns, api::Json extra_config = api::Json::object(),
                      int kill_after_ms = -1, const std::string& version = "1.1.0") {
  api::Json config{{"cniVersion", version},
                   {"name", "kubedp"},
                   {"type", "kubedp-cni"},
                   {"agentSocket", lab::NodeSocket(lab, "node1")}};
  config.update(extra_config);
  lab::SpawnOptions options{
      .argv = {lab::SelfDir() + "/kubedp-cni"},
      .netns = NetnsPath(lab::NodeNetns(lab, "node1")),
      .log_path = lab::LabDir(lab) + "/nodes/node1/cni.log",
      .env = {{"CNI_COMMAND", verb},
              {"CNI_CONTAINERID", container},
              {"CNI_NETNS", netns.empty() ? "" : NetnsPath(netns)},
              {"CNI_IFNAME", "eth0"},
              {"CNI_PATH", lab::SelfDir()},
              {"CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAMESPACE=t;K8S_POD_NAME=" + container}}};
  CniOutcome outcome;
  auto result = lab::RunCommand(options, config.dump(), kill_after_ms);
  if (!result.ok()) return outcome;
  outcome.exit_code = result->exit_code;
  outcome.out = api::Json::parse(result->out, nullptr, false);
  if (outcome.out.is_discarded()) outcome.out = nullptr;
  return outcome;
}

}  // namespace kubedp::testing
