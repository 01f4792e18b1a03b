#include "cni/plugin.h"

#include <cstdio>
#include <sstream>

#include "api/rpc.h"
#include "common/ip.h"
#include "common/log.h"
#include "netdev/netdev.h"

namespace kubedp::cni {
namespace {

constexpr const char* kSupportedVersions[] = {"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"};
constexpr const char* kLatestVersion = "1.1.0";

std::map<std::string, std::string> ParseCniArgs(const std::string& text) {
  std::map<std::string, std::string> args;
  std::stringstream stream(text);
  std::string pair;
  while (std::getline(stream, pair, ';')) {
    auto eq = pair.find('=');
    if (eq != std::string::npos) args[pair.substr(0, eq)] = pair.substr(eq + 1);
  }
  return args;
}

std::string Env(const std::map<std::string, std::string>& env, const std::string& name) {
  auto it = env.find(name);
  return it == env.end() ? "" : it->second;
}

// Environment each verb needs (CNI spec, "Parameters").
std::vector<std::string> RequiredEnv(const std::string& command) {
  if (command == "ADD") return {"CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"};
  if (command == "DEL") return {"CNI_CONTAINERID", "CNI_IFNAME"};
  return {};
}

Result<Invocation> Parse(const std::map<std::string, std::string>& env,
                         const std::string& stdin_text, CniError& error) {
  Invocation inv;
  inv.command = Env(env, "CNI_COMMAND");
  if (inv.command.empty()) {
    error = {kErrInvalidEnvironment, "CNI_COMMAND is not set", "expected ADD, DEL or VERSION"};
    return Status::Invalid(error.msg);
  }
  for (const auto& name : RequiredEnv(inv.command)) {
    if (Env(env, name).empty()) {
      error = {kErrInvalidEnvironment, name + " is not set",
               "required for CNI_COMMAND=" + inv.command};
      return Status::Invalid(error.msg);
    }
  }
  inv.container_id = Env(env, "CNI_CONTAINERID");
  inv.netns = Env(env, "CNI_NETNS");
  inv.ifname = Env(env, "CNI_IFNAME");
  inv.args = ParseCniArgs(Env(env, "CNI_ARGS"));
  if (inv.command == "VERSION") return inv;

  inv.config = Json::parse(stdin_text, nullptr, false);
  if (inv.config.is_discarded() || !inv.config.is_object()) {
    error = {kErrDecode, "network configuration on stdin is not a JSON object", ""};
    return Status::Invalid(error.msg);
  }
  inv.cni_version = inv.config.value("cniVersion", "");
  if (inv.cni_version.empty()) {
    error = {kErrInvalidConfig, "network configuration has no cniVersion", ""};
    return Status::Invalid(error.msg);
  }
  inv.agent_socket = inv.config.value("agentSocket", kDefaultAgentSocket);
  return inv;
}

uint32_t Fnv1a(const std::string& text) {
  uint32_t hash = 2166136261u;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 16777619u;
  }
  return hash;
}

Json AgentParams(const Invocation& inv) {
  return Json{{"container_id", inv.container_id},
              {"ifname", inv.ifname},
              {"netns", inv.netns},
              {"pod_namespace",
               inv.args.count("K8S_POD_NAMESPACE") ? inv.args.at("K8S_POD_NAMESPACE") : "default"},
              {"pod_name", inv.args.count("K8S_POD_NAME") ? inv.args.at("K8S_POD_NAME")
                                                          : inv.container_id.substr(0, 12)}};
}

CniError AgentError(const Status& status, const std::string& step) {
  bool unreachable =
      status.code() == ECONNREFUSED || status.code() == ENOENT || status.code() == ETIMEDOUT;
  if (unreachable) {
    return {kErrTryAgainLater, "kubedp agent not reachable", step + ": " + status.message()};
  }
  return {kErrInternal, step + " failed", status.message()};
}

struct PodAddress {
  uint32_t ip;
  uint32_t gateway;
  netdev::Mac host_mac;
};

Status ConfigurePod(const Invocation& inv, const PodAddress& address) {
  auto guard = netdev::NetnsGuard::Enter(inv.netns);
  if (!guard.ok()) return guard.status();
  KUBEDP_RETURN_IF_ERROR(netdev::AddAddress(inv.ifname, address.ip, 32));
  KUBEDP_RETURN_IF_ERROR(netdev::AddLinkRoute(inv.ifname, address.gateway, 32));
  KUBEDP_RETURN_IF_ERROR(netdev::AddDefaultRoute(inv.ifname, address.gateway));
  // The gateway is answered by no one on the link: a permanent entry spares ARP.
  return netdev::AddPermanentNeighbor(inv.ifname, address.gateway, address.host_mac);
}

Result<std::string> BringUpPodSide(const Invocation& inv) {
  auto guard = netdev::NetnsGuard::Enter(inv.netns);
  if (!guard.ok()) return guard.status();
  KUBEDP_RETURN_IF_ERROR(netdev::SetLinkUp("lo"));
  KUBEDP_RETURN_IF_ERROR(netdev::SetLinkUp(inv.ifname));
  auto mac = netdev::LinkMac(inv.ifname);
  if (!mac.ok()) return mac.status();
  return FormatMac(*mac);
}

Json AddResult(const Invocation& inv, const std::string& host_name, const std::string& pod_mac,
               const Json& endpoint) {
  Json ip{{"address", endpoint["ip"].get<std::string>() + "/32"},
          {"gateway", endpoint["gateway"]},
          {"interface", 1}};
  if (inv.cni_version.rfind("0.3.", 0) == 0) ip["version"] = "4";
  return Json{{"cniVersion", inv.cni_version},
              {"interfaces",
               Json::array({Json{{"name", host_name}, {"mac", endpoint["host_mac"]}},
                            Json{{"name", inv.ifname}, {"mac", pod_mac}, {"sandbox", inv.netns}}})},
              {"ips", Json::array({ip})},
              {"routes", Json::array({Json{{"dst", "0.0.0.0/0"}, {"gw", endpoint["gateway"]}}})},
              {"dns", Json::object()}};
}

Outcome Fail(const std::string& version, const CniError& error) {
  log::Error(
      "cni failed",
      {{"code", std::to_string(error.code)}, {"error", error.msg}, {"details", error.details}});
  return {ErrorJson(version, error).dump(), 1};
}

Outcome Add(const Invocation& inv) {
  std::string host_name = HostVethName(inv.container_id, inv.ifname);
  auto netns = netdev::OpenNetns(inv.netns);
  if (!netns.ok())
    return Fail(inv.cni_version,
                {kErrInvalidEnvironment, "CNI_NETNS is not usable", netns.status().message()});

  // A retried ADD finds the link of the first try: start from scratch.
  (void)netdev::DeleteLink(host_name);
  auto undo_link = [&] { (void)netdev::DeleteLink(host_name); };
  if (auto s = netdev::CreateVethPair(host_name, inv.ifname, netns->get()); !s.ok()) {
    return Fail(inv.cni_version, {kErrIoFailure, "creating the veth pair failed", s.message()});
  }
  if (auto s = netdev::SetLinkUp(host_name); !s.ok()) {
    undo_link();
    return Fail(inv.cni_version,
                {kErrIoFailure, "bringing up " + host_name + " failed", s.message()});
  }
  auto pod_mac = BringUpPodSide(inv);
  if (!pod_mac.ok()) {
    undo_link();
    return Fail(inv.cni_version, {kErrIoFailure, "configuring the pod interface failed",
                                  pod_mac.status().message()});
  }

  Json params = AgentParams(inv);
  params["host_ifname"] = host_name;
  params["pod_mac"] = *pod_mac;
  auto endpoint = api::Call(inv.agent_socket, "endpoint.create", params);
  if (!endpoint.ok()) {
    undo_link();
    return Fail(inv.cni_version, AgentError(endpoint.status(), "endpoint.create"));
  }

  PodAddress address{};
  auto ip = ParseIpv4((*endpoint)["ip"].get<std::string>());
  auto gateway = ParseIpv4((*endpoint)["gateway"].get<std::string>());
  auto host_mac = ParseMac((*endpoint)["host_mac"].get<std::string>());
  Status configured = Status::Invalid("agent returned a malformed endpoint");
  if (ip.ok() && gateway.ok() && host_mac.ok()) {
    address = PodAddress{*ip, *gateway, *host_mac};
    configured = ConfigurePod(inv, address);
  }
  if (!configured.ok()) {
    (void)api::Call(inv.agent_socket, "endpoint.delete", AgentParams(inv));
    undo_link();
    return Fail(inv.cni_version,
                {kErrIoFailure, "configuring pod addresses failed", configured.message()});
  }
  log::Info("pod attached", {{"container", inv.container_id.substr(0, 12)},
                             {"ip", FormatIpv4(address.ip)},
                             {"interface", host_name}});
  return {AddResult(inv, host_name, *pod_mac, *endpoint).dump(), 0};
}

Outcome Del(const Invocation& inv) {
  // Release first: the address must come back even when the netns is gone.
  auto released = api::Call(inv.agent_socket, "endpoint.delete", AgentParams(inv));
  if (!released.ok()) {
    return Fail(inv.cni_version, AgentError(released.status(), "endpoint.delete"));
  }
  // Deleting the host side takes the pod side with it, wherever it is.
  if (auto s = netdev::DeleteLink(HostVethName(inv.container_id, inv.ifname)); !s.ok()) {
    return Fail(inv.cni_version, {kErrIoFailure, "deleting the veth failed", s.message()});
  }
  return {"", 0};
}

Outcome Version(const std::string& stdin_text) {
  Json versions = Json::array();
  for (const char* v : kSupportedVersions) versions.push_back(v);
  Json config = Json::parse(stdin_text, nullptr, false);
  std::string asked =
      config.is_object() ? config.value("cniVersion", kLatestVersion) : kLatestVersion;
  return {Json{{"cniVersion", asked}, {"supportedVersions", versions}}.dump(), 0};
}

}  // namespace

std::string HostVethName(const std::string& container_id, const std::string& ifname) {
  char suffix[16];
  std::snprintf(suffix, sizeof(suffix), "%08x", Fnv1a(container_id + "/" + ifname));
  return std::string("kubedp") + suffix;
}

Json ErrorJson(const std::string& cni_version, const CniError& error) {
  Json out{{"cniVersion", cni_version.empty() ? kLatestVersion : cni_version},
           {"code", error.code},
           {"msg", error.msg}};
  if (!error.details.empty()) out["details"] = error.details;
  return out;
}

Outcome Run(const std::map<std::string, std::string>& env, const std::string& stdin_text) {
  CniError error{};
  auto inv = Parse(env, stdin_text, error);
  if (!inv.ok()) return Fail("", error);
  if (inv->command == "VERSION") return Version(stdin_text);
  if (inv->command == "ADD") return Add(*inv);
  if (inv->command == "DEL") return Del(*inv);
  return Fail(inv->cni_version,
              {kErrInvalidEnvironment, "CNI_COMMAND " + inv->command + " is not supported",
               "supported: ADD, DEL, VERSION"});
}

}  // namespace kubedp::cni
