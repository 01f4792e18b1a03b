#include "cni/plugin.h"

#include <cctype>
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
  if (command == "ADD" || command == "CHECK") {
    return {"CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"};
  }
  if (command == "DEL") return {"CNI_CONTAINERID", "CNI_IFNAME", "CNI_PATH"};
  if (command == "GC" || command == "STATUS") return {"CNI_PATH"};
  return {};
}

// CNI_CONTAINERID: starts alphanumeric, then letters, digits, '_', '.', '-'.
bool ValidContainerId(const std::string& id) {
  if (id.empty() || !std::isalnum(static_cast<unsigned char>(id[0]))) return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') {
      return false;
    }
  }
  return true;
}

bool SupportedVersion(const std::string& version) {
  for (const char* v : kSupportedVersions) {
    if (version == v) return true;
  }
  return false;
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
  if (!inv.container_id.empty() && !ValidContainerId(inv.container_id)) {
    error = {kErrInvalidEnvironment, "CNI_CONTAINERID is not valid",
             "must start with a letter or digit and hold only letters, digits, '_', '.', '-'"};
    return Status::Invalid(error.msg);
  }
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
  if (!SupportedVersion(inv.cni_version)) {
    error = {kErrIncompatibleVersion, "cniVersion " + inv.cni_version + " is not supported",
             "supported: 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0"};
    return Status::Invalid(error.msg);
  }
  if (!inv.config.contains("agentSocket")) {
    inv.agent_socket = kDefaultAgentSocket;
  } else if (inv.config["agentSocket"].is_string()) {
    inv.agent_socket = inv.config["agentSocket"].get<std::string>();
  } else {
    error = {kErrInvalidConfig, "agentSocket must be a string", ""};
    return Status::Invalid(error.msg);
  }
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

}  // namespace

Json AddResultJson(const std::string& cni_version, const std::string& ifname,
                   const std::string& netns, const std::string& host_name,
                   const std::string& pod_mac, const Json& endpoint) {
  Json ip{{"address", endpoint["ip"].get<std::string>() + "/32"},
          {"gateway", endpoint["gateway"]},
          {"interface", 1}};
  // 0.3.x results name the IP version of each address; later ones dropped it.
  if (cni_version.rfind("0.3.", 0) == 0) ip["version"] = "4";
  return Json{
      {"cniVersion", cni_version},
      {"interfaces", Json::array({Json{{"name", host_name}, {"mac", endpoint["host_mac"]}},
                                  Json{{"name", ifname}, {"mac", pod_mac}, {"sandbox", netns}}})},
      {"ips", Json::array({ip})},
      {"routes", Json::array({Json{{"dst", "0.0.0.0/0"}, {"gw", endpoint["gateway"]}}})},
      {"dns", Json::object()}};
}

namespace {

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
  return {
      AddResultJson(inv.cni_version, inv.ifname, inv.netns, host_name, *pod_mac, *endpoint).dump(),
      0};
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

// CHECK: the interface, its address and routes in the pod, the host side and
// the reservation must all still be what ADD made; the first drift is reported.
Status CheckPod(const Invocation& inv, const Json& endpoint) {
  std::string host_name = HostVethName(inv.container_id, inv.ifname);
  auto host_index = netdev::LinkIndex(host_name);
  if (!host_index.ok()) return host_index.status();
  if (*host_index == 0) return Status::NotFound("host interface " + host_name + " is missing");
  // The agent attached its program to the index it recorded; another index is
  // a veth recreated behind its back, running without kubedp.
  if (*host_index != endpoint.value("ifindex", 0)) {
    return Status::Invalid("host interface " + host_name + " has ifindex " +
                           std::to_string(*host_index) + ", the agent attached to " +
                           std::to_string(endpoint.value("ifindex", 0)));
  }
  auto ip = ParseIpv4(endpoint["ip"].get<std::string>());
  auto gateway = ParseIpv4(endpoint["gateway"].get<std::string>());
  if (!ip.ok() || !gateway.ok()) return Status::Invalid("agent returned a malformed endpoint");

  if (inv.config.contains("prevResult")) {
    const Json& prev = inv.config["prevResult"];
    std::string want = endpoint["ip"].get<std::string>() + "/32";
    bool listed = false;
    for (const auto& entry : prev.value("ips", Json::array()))
      listed |= entry.value("address", "") == want;
    if (!listed) return Status::Invalid("prevResult does not hold the reserved address " + want);
  }

  auto guard = netdev::NetnsGuard::Enter(inv.netns);
  if (!guard.ok()) return guard.status();
  auto index = netdev::LinkIndex(inv.ifname);
  if (!index.ok()) return index.status();
  if (*index == 0)
    return Status::NotFound("interface " + inv.ifname + " is missing in " + inv.netns);
  auto has_address = netdev::HasAddress(inv.ifname, *ip, 32);
  if (!has_address.ok()) return has_address.status();
  if (!*has_address) {
    return Status::NotFound("interface " + inv.ifname + " lacks " + FormatIpv4(*ip) + "/32");
  }
  auto has_route = netdev::HasDefaultRoute(inv.ifname, *gateway);
  if (!has_route.ok()) return has_route.status();
  if (!*has_route) {
    return Status::NotFound("no default route via " + FormatIpv4(*gateway) + " on " + inv.ifname);
  }
  return Status::Ok();
}

Outcome Check(const Invocation& inv) {
  auto endpoint = api::Call(inv.agent_socket, "endpoint.get", AgentParams(inv));
  if (!endpoint.ok()) {
    if (endpoint.status().code() == ENOENT && endpoint.status().message().find("no address") == 0) {
      return Fail(inv.cni_version,
                  {kErrInternal, "CHECK found drift", endpoint.status().message()});
    }
    return Fail(inv.cni_version, AgentError(endpoint.status(), "endpoint.get"));
  }
  if (Status s = CheckPod(inv, *endpoint); !s.ok()) {
    return Fail(inv.cni_version, {kErrInternal, "CHECK found drift", s.message()});
  }
  return {"", 0};
}

Outcome StatusVerb(const Invocation& inv) {
  auto ready = api::Call(inv.agent_socket, "ready", Json::object(), 3000);
  if (!ready.ok()) {
    return Fail(inv.cni_version,
                {kErrPluginNotAvailable, "kubedp agent not reachable", ready.status().message()});
  }
  if (!ready->value("ready", false)) {
    return Fail(inv.cni_version,
                {kErrPluginNotAvailable, "kubedp cannot add pods now", ready->value("reason", "")});
  }
  return {"", 0};
}

// GC: everything not in the runtime's valid attachments is released. The
// legacy key is read too; errors do not stop the sweep and are all reported.
Outcome Gc(const Invocation& inv) {
  const Json* attachments = nullptr;
  for (const char* key : {"cni.dev/valid-attachments", "cni.dev/attachments"}) {
    if (inv.config.contains(key)) {
      attachments = &inv.config[key];
      break;
    }
  }
  if (!attachments || !attachments->is_array()) {
    return Fail(inv.cni_version, {kErrInvalidConfig, "GC needs cni.dev/valid-attachments",
                                  "a list of {containerID, ifname}"});
  }
  Json valid = Json::array();
  for (const auto& a : *attachments) {
    if (!a.is_object() || !a.contains("containerID") || !a.contains("ifname")) {
      return Fail(inv.cni_version, {kErrInvalidConfig, "malformed valid attachment", a.dump()});
    }
    valid.push_back(Json{{"container_id", a["containerID"]}, {"ifname", a["ifname"]}});
  }
  auto result = api::Call(inv.agent_socket, "ipam.gc", Json{{"valid", valid}});
  if (!result.ok()) return Fail(inv.cni_version, AgentError(result.status(), "ipam.gc"));
  const Json& errors = (*result)["errors"];
  if (!errors.empty()) {
    std::string details;
    for (const auto& e : errors) details += (details.empty() ? "" : "; ") + e.get<std::string>();
    return Fail(inv.cni_version,
                {kErrInternal,
                 std::to_string(errors.size()) + " attachment(s) could not be released", details});
  }
  log::Info("gc done", {{"released", std::to_string((*result)["released"].size())}});
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
  if (inv->command == "CHECK") return Check(*inv);
  if (inv->command == "STATUS") return StatusVerb(*inv);
  if (inv->command == "GC") return Gc(*inv);
  return Fail(inv->cni_version,
              {kErrInvalidEnvironment, "CNI_COMMAND " + inv->command + " is not supported",
               "supported: ADD, DEL, CHECK, STATUS, GC, VERSION"});
}

}  // namespace kubedp::cni
