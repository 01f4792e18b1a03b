// kubedp-cni: the CNI plugin the container runtime executes. It builds the
// pod's veth pair and addressing; the agent owns the IP and the endpoint.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "common/result.h"

namespace kubedp::cni {

using Json = nlohmann::json;

// CNI error codes used here (CNI spec, "Error codes").
inline constexpr int kErrIncompatibleVersion = 1;
inline constexpr int kErrUnsupportedField = 2;
inline constexpr int kErrInvalidEnvironment = 4;
inline constexpr int kErrIoFailure = 5;
inline constexpr int kErrDecode = 6;
inline constexpr int kErrInvalidConfig = 7;
inline constexpr int kErrTryAgainLater = 11;
inline constexpr int kErrPluginNotAvailable = 50;
inline constexpr int kErrInternal = 999;

inline constexpr const char* kDefaultAgentSocket = "/run/kubedp/agent.sock";

struct Invocation {
  std::string command;
  std::string container_id;
  std::string netns;
  std::string ifname;
  std::map<std::string, std::string> args;  // CNI_ARGS
  Json config;                              // stdin
  std::string cni_version;
  std::string agent_socket;
};

struct CniError {
  int code;
  std::string msg;
  std::string details;
};

// Runs one invocation and returns what goes to stdout and the exit code.
struct Outcome {
  std::string stdout_text;
  int exit_code;
};
Outcome Run(const std::map<std::string, std::string>& env, const std::string& stdin_text);

// The name of the host-side veth of (container, ifname): stable, unique, at
// most 15 characters, and prefixed so operators can tell kubedp's links apart.
std::string HostVethName(const std::string& container_id, const std::string& ifname);

Json ErrorJson(const std::string& cni_version, const CniError& error);

// The ADD result in the format of the version the runtime asked for.
Json AddResultJson(const std::string& cni_version, const std::string& ifname,
                   const std::string& netns, const std::string& host_name,
                   const std::string& pod_mac, const Json& endpoint);

}  // namespace kubedp::cni
