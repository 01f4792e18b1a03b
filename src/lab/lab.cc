#include "lab/lab.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "api/rpc.h"
#include "common/ip.h"
#include "common/log.h"
#include "control/policy_oracle.h"
#include "datapath/pins.h"
#include "k8s/decode.h"
#include "k8s/yaml_json.h"
#include "lab/probe.h"
#include "lab/process.h"
#include "netdev/netdev.h"
#include "source/manifest_dir.h"

namespace kubedp::lab {
namespace fs = std::filesystem;

namespace {

constexpr const char* kRunRoot = "/run/kubedp";
constexpr const char* kLabRoot = "/run/kubedp/lab";
constexpr const char* kNetnsDir = "/run/netns";

std::string NodeDir(const std::string& lab, const std::string& node) {
  return LabDir(lab) + "/nodes/" + node;
}
std::string DatapathId(const std::string& lab, const std::string& node) {
  return lab + "_" + node;
}
std::string NetnsPath(const std::string& netns) {
  return std::string(kNetnsDir) + "/" + netns;
}

// Lab, node, namespace and pod names become parts of namespace and bpffs names.
bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > 63) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

Status WriteFileAtomically(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out) return Status::Error(EIO, "writing " + tmp);
  }
  // A rename is one inotify event with the whole file: the agent never reads half.
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return Status::FromErrno(ec.value(), "renaming " + tmp);
  return Status::Ok();
}

Status RunIp(const std::vector<std::string>& args) {
  SpawnOptions options{.argv = {"/usr/bin/env", "ip"}};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  auto result = RunCommand(options, "");
  if (!result.ok()) return result.status();
  if (result->exit_code != 0) {
    std::string joined;
    for (const auto& a : args) joined += " " + a;
    return Status::Error(
        EIO, "ip" + joined + " failed with exit code " + std::to_string(result->exit_code));
  }
  return Status::Ok();
}

// The last lines of a log, for an error message that must stand on its own
// (a failed `lab up` removes the lab, logs included).
std::string LogTail(const std::string& path, size_t lines = 5) {
  std::ifstream in(path);
  std::vector<std::string> all;
  for (std::string line; std::getline(in, line);) all.push_back(line);
  std::string tail;
  for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) {
    tail += "\n  " + all[i];
  }
  return tail;
}

std::string ContainerId(const std::string& lab, const std::string& ns, const std::string& pod) {
  std::hash<std::string> hash;
  std::ostringstream id;
  for (int round = 0; round < 4; ++round) {
    id << std::hex << std::setfill('0') << std::setw(16)
       << hash(std::to_string(round) + "/" + lab + "/" + ns + "/" + pod);
  }
  return id.str();
}

std::string ListOf(const std::vector<Json>& items) {
  return Json{{"apiVersion", "v1"}, {"kind", "List"}, {"items", items}}.dump(2);
}

Result<std::vector<int>> PortList(const YAML::Node& node, const std::string& field) {
  std::vector<int> ports;
  if (!node) return ports;
  if (!node.IsSequence()) return Status::Invalid(field + ": expected a list of ports");
  for (const auto& item : node) {
    int port = item.as<int>(0);
    if (port < 1 || port > 65535) return Status::Invalid(field + ": ports are 1-65535");
    ports.push_back(port);
  }
  return ports;
}

Status ParseExternalHosts(const YAML::Node& hosts, const std::string& where, LabSpec& spec) {
  if (!hosts) return Status::Ok();
  if (!hosts.IsSequence()) return Status::Invalid(where + ": spec.external: expected a list");
  auto network = *Ipv4Cidr::Parse(kLabNetwork);
  std::set<std::string> names;
  for (size_t i = 0; i < hosts.size(); ++i) {
    std::string field = where + ": spec.external[" + std::to_string(i) + "]";
    ExternalHost host{hosts[i]["name"].as<std::string>(""),
                      hosts[i]["ip"].as<std::string>("192.0.2." + std::to_string(100 + i)),
                      {},
                      {}};
    if (!ValidName(host.name) || !names.insert(host.name).second) {
      return Status::Invalid(field + ".name: missing, invalid or repeated");
    }
    auto ip = ParseIpv4(host.ip);
    if (!ip.ok() || !network.Contains(*ip) || (*ip & 0xff) <= 10 + spec.nodes.size()) {
      return Status::Invalid(field + ".ip: '" + host.ip + "' must be an address of " + kLabNetwork +
                             " above the nodes' addresses");
    }
    auto tcp = PortList(hosts[i]["tcp"], field + ".tcp");
    if (!tcp.ok()) return tcp.status();
    auto udp = PortList(hosts[i]["udp"], field + ".udp");
    if (!udp.ok()) return udp.status();
    host.tcp_ports = *tcp;
    host.udp_ports = *udp;
    spec.external.push_back(host);
  }
  return Status::Ok();
}

Status ParseLabSection(const YAML::Node& doc, const std::string& where, LabSpec& spec) {
  spec.name = doc["metadata"]["name"].as<std::string>("demo");
  if (!ValidName(spec.name)) {
    return Status::Invalid(where + ": metadata.name '" + spec.name +
                           "' must be 1-63 characters of a-z, 0-9 and '-'");
  }
  const YAML::Node nodes = doc["spec"]["nodes"];
  if (!nodes || !nodes.IsSequence() || nodes.size() == 0) {
    return Status::Invalid(where + ": spec.nodes must list at least one node");
  }
  for (size_t i = 0; i < nodes.size(); ++i) {
    std::string field = where + ": spec.nodes[" + std::to_string(i) + "]";
    LabNode node{nodes[i]["name"].as<std::string>(""), nodes[i]["podCIDR"].as<std::string>(""), {}};
    if (const YAML::Node args = nodes[i]["agentArgs"]; args) {
      if (!args.IsSequence()) return Status::Invalid(field + ".agentArgs: expected a list");
      for (const auto& arg : args) node.agent_args.push_back(arg.as<std::string>());
    }
    if (!ValidName(node.name)) return Status::Invalid(field + ".name: not a valid node name");
    if (node.name == "lan")
      return Status::Invalid(field + ".name: 'lan' is the lab network's name");
    if (auto cidr = Ipv4Cidr::Parse(node.pod_cidr); !cidr.ok()) {
      return Status::Invalid(field + ".podCIDR: " + cidr.status().message());
    }
    spec.nodes.push_back(node);
  }
  return ParseExternalHosts(doc["spec"]["external"], where, spec);
}

}  // namespace

std::string LabDir(const std::string& name) {
  return std::string(kLabRoot) + "/" + name;
}
std::string NodeSocket(const std::string& lab, const std::string& node) {
  return api::SocketPath(NodeDir(lab, node) + "/run");
}
std::string NodeNetns(const std::string& lab, const std::string& node) {
  return "kubedp_" + lab + "_" + node;
}
std::string PodNetns(const std::string& lab, const std::string& ns, const std::string& pod) {
  return "kubedp_" + lab + "_pod_" + ns + "_" + pod;
}
std::string LanNetns(const std::string& lab) {
  return "kubedp_" + lab + "_lan";
}
std::string ExternalNetns(const std::string& lab, const std::string& host) {
  return "kubedp_" + lab + "_ext_" + host;
}

Result<LabSpec> ParseLabFile(const std::string& text, const std::string& origin) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    return Status::Invalid(origin + ": " + e.what());
  }
  LabSpec spec;
  std::vector<std::pair<Json, k8s::Pod>> pods;
  bool has_lab = false;
  for (size_t i = 0; i < docs.size(); ++i) {
    const YAML::Node& doc = docs[i];
    if (!doc || doc.IsNull()) continue;
    std::string where = origin + ": document " + std::to_string(i + 1);
    std::string kind = doc["kind"] ? doc["kind"].as<std::string>("") : "";
    if (kind == "Lab") {
      KUBEDP_RETURN_IF_ERROR(ParseLabSection(doc, where, spec));
      has_lab = true;
      continue;
    }
    if (!k8s::IsModeledKind(doc["apiVersion"].as<std::string>(""), kind)) {
      log::Warn("lab file: kind not modelled, ignored", {{"where", where}, {"kind", kind}});
      continue;
    }
    std::string problem;
    Json json = k8s::YamlToJson(doc, &problem);
    if (!problem.empty()) return Status::Invalid(where + ": " + problem);
    auto object = k8s::DecodeObject(json, where);
    if (!object.ok()) return object.status();
    if (auto* pod = std::get_if<k8s::Pod>(&*object)) {
      pods.emplace_back(std::move(json), *pod);
    } else {
      spec.cluster_documents.push_back(std::move(json));
    }
  }
  if (!has_lab) {
    spec.name = "demo";
    spec.nodes.push_back({"node1", "10.244.1.0/24"});
  }
  std::set<std::string> node_names, pod_keys;
  for (const auto& node : spec.nodes) node_names.insert(node.name);
  for (auto& [doc, pod] : pods) {
    std::string key = pod.meta.namespace_ + "/" + pod.meta.name;
    if (!ValidName(pod.meta.namespace_) || !ValidName(pod.meta.name)) {
      return Status::Invalid(origin + ": pod " + key +
                             ": lab pod and namespace names must be "
                             "1-63 characters of a-z, 0-9 and '-'");
    }
    if (!pod_keys.insert(key).second) return Status::Invalid(origin + ": pod " + key + " twice");
    std::string node = pod.node_name.empty() ? spec.nodes.front().name : pod.node_name;
    if (!node_names.count(node)) {
      return Status::Invalid(origin + ": pod " + key + ": spec.nodeName '" + node +
                             "' is not a node of the lab");
    }
    doc["spec"]["nodeName"] = node;
    spec.pods.push_back(LabPod{pod.meta.namespace_, pod.meta.name, node, pod.ports, ""});
    spec.pod_documents.push_back(std::move(doc));
  }
  return spec;
}

Result<Json> LoadState(const std::string& name) {
  std::ifstream in(LabDir(name) + "/state.json");
  if (!in)
    return Status::NotFound("lab '" + name + "' is not up (no " + LabDir(name) + "/state.json)");
  Json state = Json::parse(in, nullptr, false);
  if (state.is_discarded()) return Status::Invalid("lab state of '" + name + "' is corrupt");
  return state;
}

namespace {

// Readiness: the agent answers its health call once its datapath is loaded.
Status WaitForAgent(pid_t pid, const std::string& socket, const std::string& log_path) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!Alive(pid)) return Status::Error(ECHILD, "agent exited during start:" + LogTail(log_path));
    if (api::Call(socket, "health", Json::object(), 1000).ok()) return Status::Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Status::Error(ETIMEDOUT, "agent not ready after 20s:" + LogTail(log_path));
}

// Pods as a kubelet would report them: bound to the node, running, ready,
// with IPs; from the lab's state, which holds each pod's document.
Status WriteNodePods(const std::string& lab, const Json& state, const std::string& node) {
  std::vector<Json> items;
  for (const auto& pod : state["pods"]) {
    if (pod["node"] != node || !pod.contains("document")) continue;
    Json doc = pod["document"];
    std::string ip = pod.value("ip", "");
    doc["status"] =
        Json{{"phase", "Running"},
             {"podIP", ip},
             {"podIPs", Json::array({Json{{"ip", ip}}})},
             {"conditions", Json::array({Json{{"type", "Ready"}, {"status", "True"}}})}};
    items.push_back(doc);
  }
  return WriteFileAtomically(NodeDir(lab, node) + "/manifests/pods.json", ListOf(items));
}

// How many cluster-state changes the node's agent has applied.
Result<uint64_t> AgentGeneration(const std::string& lab, const std::string& node) {
  auto status = api::Call(NodeSocket(lab, node), "health", Json::object(), 2000);
  if (!status.ok()) return status.status();
  return (*status)["cluster"].value("generation", uint64_t{0});
}

// Waits until the node's agent has applied a change after generation `after`.
Status WaitForAgentGeneration(const std::string& lab, const std::string& node, uint64_t after) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    auto generation = AgentGeneration(lab, node);
    if (generation.ok() && *generation > after) return Status::Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return Status::Error(ETIMEDOUT, "agent of " + node + " did not apply the change within 10s");
}

class LabBuilder {
 public:
  LabBuilder(LabSpec spec, std::string file) : spec_(std::move(spec)), file_(std::move(file)) {
    state_ = Json{{"name", spec_.name},
                  {"file", file_},
                  {"nodes", Json::array()},
                  {"pods", Json::array()},
                  {"external", Json::array()}};
  }
  // For changes to a running lab: its nodes and state as saved.
  LabBuilder(const std::string& name, Json state) : state_(std::move(state)) {
    spec_.name = name;
    for (const auto& node : state_["nodes"]) {
      spec_.nodes.push_back(LabNode{node["name"], node.value("pod_cidr", ""), {}});
    }
  }

  const Json& State() const { return state_; }
  bool HasNode(const std::string& node) const {
    return std::any_of(spec_.nodes.begin(), spec_.nodes.end(),
                       [&](const LabNode& n) { return n.name == node; });
  }

  // Starts one more pod (CNI ADD, echo server); the caller writes the node's pods.
  Status AddPod(const LabPod& pod, const Json& document) {
    spec_.pods.push_back(pod);
    spec_.pod_documents.push_back(document);
    return StartPod(spec_.pods.size() - 1);
  }

  Status Build() {
    KUBEDP_RETURN_IF_ERROR(SaveState());
    KUBEDP_RETURN_IF_ERROR(StartNetwork());
    for (size_t i = 0; i < spec_.nodes.size(); ++i) KUBEDP_RETURN_IF_ERROR(StartNode(i));
    for (size_t i = 0; i < spec_.external.size(); ++i) KUBEDP_RETURN_IF_ERROR(StartExternal(i));
    for (size_t i = 0; i < spec_.pods.size(); ++i) KUBEDP_RETURN_IF_ERROR(StartPod(i));
    for (const auto& node : spec_.nodes) KUBEDP_RETURN_IF_ERROR(WritePods(node.name));
    for (const auto& node : spec_.nodes) KUBEDP_RETURN_IF_ERROR(WaitForPods(node.name));
    return SaveState();
  }

  // Ready when each agent has read every pod of its node (and so compiled the
  // policy for them): the lab's traffic is then judged by the final state.
  Status WaitForPods(const std::string& node) {
    size_t expected = std::count_if(spec_.pods.begin(), spec_.pods.end(),
                                    [&](const LabPod& pod) { return pod.node == node; });
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      auto status = api::Call(NodeSocket(spec_.name, node), "health", Json::object(), 2000);
      if (status.ok() && (*status)["cluster"].value("pods", 0u) == expected) return Status::Ok();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return Status::Error(ETIMEDOUT, "agent of " + node + " did not read its pods within 10s");
  }

 private:
  Status SaveState() {
    return WriteFileAtomically(LabDir(spec_.name) + "/state.json", state_.dump(2));
  }

  // The nodes' network: a bridge in its own namespace; 192.0.2.1 on it is
  // the nodes' gateway.
  Status StartNetwork() {
    std::string lan = LanNetns(spec_.name);
    state_["lan_netns"] = lan;
    KUBEDP_RETURN_IF_ERROR(SaveState());
    KUBEDP_RETURN_IF_ERROR(RunIp({"netns", "add", lan}));
    KUBEDP_RETURN_IF_ERROR(RunIp({"-n", lan, "link", "set", "lo", "up"}));
    KUBEDP_RETURN_IF_ERROR(RunIp({"-n", lan, "link", "add", "br0", "type", "bridge"}));
    KUBEDP_RETURN_IF_ERROR(RunIp({"-n", lan, "addr", "add", "192.0.2.1/24", "dev", "br0"}));
    return RunIp({"-n", lan, "link", "set", "br0", "up"});
  }

  // A veth from the bridge (port name lan_port) to `netns`, named eth0 there.
  Status Plug(const std::string& netns, const std::string& lan_port, const std::string& address) {
    std::string lan = LanNetns(spec_.name);
    KUBEDP_RETURN_IF_ERROR(RunIp({"-n", lan, "link", "add", lan_port, "type", "veth", "peer",
                                  "name", kLabUplink, "netns", netns}));
    KUBEDP_RETURN_IF_ERROR(RunIp({"-n", lan, "link", "set", lan_port, "master", "br0", "up"}));
    KUBEDP_RETURN_IF_ERROR(RunIp({"-n", netns, "addr", "add", address + "/24", "dev", kLabUplink}));
    return RunIp({"-n", netns, "link", "set", kLabUplink, "up"});
  }

  static std::string NodeIp(size_t index) { return "192.0.2." + std::to_string(11 + index); }

  // An external host: on the bridge, with routes to every node's pods through
  // that node (as a cloud network routes pod ranges), serving its ports.
  Status StartExternal(size_t index) {
    const ExternalHost& host = spec_.external[index];
    std::string netns = ExternalNetns(spec_.name, host.name);
    state_["external"].push_back(
        Json{{"name", host.name}, {"ip", host.ip}, {"netns", netns}, {"echo_pid", 0}});
    KUBEDP_RETURN_IF_ERROR(SaveState());
    KUBEDP_RETURN_IF_ERROR(RunIp({"netns", "add", netns}));
    KUBEDP_RETURN_IF_ERROR(RunIp({"-n", netns, "link", "set", "lo", "up"}));
    KUBEDP_RETURN_IF_ERROR(Plug(netns, "x" + std::to_string(index), host.ip));
    for (size_t i = 0; i < spec_.nodes.size(); ++i) {
      KUBEDP_RETURN_IF_ERROR(
          RunIp({"-n", netns, "route", "add", spec_.nodes[i].pod_cidr, "via", NodeIp(i)}));
    }
    auto pid = StartEchoIn("external/" + host.name, netns, host.tcp_ports, host.udp_ports,
                           LabDir(spec_.name) + "/echo-external-" + host.name + ".log");
    if (!pid.ok()) return pid.status().Context("echo server of external host " + host.name);
    state_["external"].back()["echo_pid"] = *pid;
    return SaveState();
  }

  Status StartNode(size_t index) {
    const LabNode& node = spec_.nodes[index];
    const std::string& lab = spec_.name;
    std::string netns = NodeNetns(lab, node.name);
    std::string dir = NodeDir(lab, node.name);
    fs::create_directories(dir + "/manifests");
    state_["nodes"].push_back(Json{{"name", node.name},
                                   {"ip", NodeIp(index)},
                                   {"pod_cidr", node.pod_cidr},
                                   {"netns", netns},
                                   {"socket", NodeSocket(lab, node.name)},
                                   {"datapath_id", DatapathId(lab, node.name)},
                                   {"agent_pid", 0}});
    KUBEDP_RETURN_IF_ERROR(SaveState());
    KUBEDP_RETURN_IF_ERROR(RunIp({"netns", "add", netns}));
    KUBEDP_RETURN_IF_ERROR(RunIp({"-n", netns, "link", "set", "lo", "up"}));
    KUBEDP_RETURN_IF_ERROR(Plug(netns, "n" + std::to_string(index), NodeIp(index)));
    KUBEDP_RETURN_IF_ERROR(RunIp({"-n", netns, "route", "add", "default", "via", "192.0.2.1"}));
    KUBEDP_RETURN_IF_ERROR(WriteClusterManifests(node));

    std::vector<std::string> argv{SelfDir() + "/kubedp-agent",
                                  "--node-name",
                                  node.name,
                                  "--datapath-id",
                                  DatapathId(lab, node.name),
                                  "--netns",
                                  NetnsPath(netns),
                                  "--manifest-dir",
                                  dir + "/manifests",
                                  "--state-dir",
                                  dir + "/state",
                                  "--run-dir",
                                  dir + "/run",
                                  "--policy-log-file",
                                  dir + "/policy_action.log",
                                  "--node-device",
                                  kLabUplink};
    argv.insert(argv.end(), node.agent_args.begin(), node.agent_args.end());
    state_["nodes"].back()["agent_argv"] = argv;
    KUBEDP_RETURN_IF_ERROR(SaveState());
    auto pid = Spawn({.argv = argv, .log_path = dir + "/agent.log"});
    if (!pid.ok()) return pid.status();
    state_["nodes"].back()["agent_pid"] = *pid;
    KUBEDP_RETURN_IF_ERROR(SaveState());
    return WaitForAgent(*pid, NodeSocket(lab, node.name), dir + "/agent.log");
  }

  Status WriteClusterManifests(const LabNode& node) {
    std::vector<Json> items{Json{{"apiVersion", "v1"},
                                 {"kind", "Node"},
                                 {"metadata", {{"name", node.name}}},
                                 {"spec", {{"podCIDR", node.pod_cidr}}}}};
    items.insert(items.end(), spec_.cluster_documents.begin(), spec_.cluster_documents.end());
    return WriteFileAtomically(NodeDir(spec_.name, node.name) + "/manifests/cluster.json",
                               ListOf(items));
  }

  Status WritePods(const std::string& node) { return WriteNodePods(spec_.name, state_, node); }

  Status StartPod(size_t index) {
    LabPod& pod = spec_.pods[index];
    const std::string& lab = spec_.name;
    std::string netns = PodNetns(lab, pod.namespace_, pod.name);
    std::string container = ContainerId(lab, pod.namespace_, pod.name);
    state_["pods"].push_back(Json{{"namespace", pod.namespace_},
                                  {"name", pod.name},
                                  {"node", pod.node},
                                  {"netns", netns},
                                  {"container_id", container},
                                  {"ip", ""},
                                  {"echo_pid", 0},
                                  {"ports", Json::array()},
                                  {"document", spec_.pod_documents[index]}});
    for (const auto& port : pod.ports) {
      state_["pods"].back()["ports"].push_back(
          Json{{"name", port.name}, {"port", port.port}, {"protocol", port.protocol}});
    }
    KUBEDP_RETURN_IF_ERROR(SaveState());
    KUBEDP_RETURN_IF_ERROR(RunIp({"netns", "add", netns}));

    auto ip = CniAdd(pod, netns, container);
    if (!ip.ok()) return ip.status().Context("pod " + pod.namespace_ + "/" + pod.name);
    pod.ip = *ip;
    state_["pods"].back()["ip"] = pod.ip;
    KUBEDP_RETURN_IF_ERROR(SaveState());

    auto pid = StartEcho(pod, netns);
    if (!pid.ok()) return pid.status().Context("echo server of " + pod.namespace_ + "/" + pod.name);
    state_["pods"].back()["echo_pid"] = *pid;
    log::Info("pod up",
              {{"pod", pod.namespace_ + "/" + pod.name}, {"ip", pod.ip}, {"node", pod.node}});
    return SaveState();
  }

  // The CNI plugin runs in the node's namespace, as it would under a kubelet.
  Result<std::string> CniAdd(const LabPod& pod, const std::string& netns,
                             const std::string& container) {
    std::string node_dir = NodeDir(spec_.name, pod.node);
    Json config{{"cniVersion", "1.0.0"},
                {"name", "kubedp"},
                {"type", "kubedp-cni"},
                {"agentSocket", NodeSocket(spec_.name, pod.node)}};
    SpawnOptions cni{.argv = {SelfDir() + "/kubedp-cni"},
                     .netns = NetnsPath(NodeNetns(spec_.name, pod.node)),
                     .log_path = node_dir + "/cni.log",
                     .env = {{"CNI_COMMAND", "ADD"},
                             {"CNI_CONTAINERID", container},
                             {"CNI_NETNS", NetnsPath(netns)},
                             {"CNI_IFNAME", "eth0"},
                             {"CNI_PATH", SelfDir()},
                             {"CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAMESPACE=" + pod.namespace_ +
                                              ";K8S_POD_NAME=" + pod.name}}};
    auto result = RunCommand(cni, config.dump());
    if (!result.ok()) return result.status();
    Json out = Json::parse(result->out, nullptr, false);
    if (result->exit_code != 0 || out.is_discarded() || !out.contains("ips")) {
      return Status::Error(EIO, "CNI ADD failed: " + result->out);
    }
    std::string address = out["ips"][0]["address"].get<std::string>();
    return address.substr(0, address.find('/'));
  }

  Result<pid_t> StartEcho(const LabPod& pod, const std::string& netns) {
    std::vector<int> tcp, udp;
    for (const auto& port : pod.ports) {
      if (port.protocol == "TCP") tcp.push_back(port.port);
      if (port.protocol == "UDP") udp.push_back(port.port);
    }
    return StartEchoIn(pod.namespace_ + "/" + pod.name, netns, tcp, udp,
                       LabDir(spec_.name) + "/echo-" + pod.namespace_ + "-" + pod.name + ".log");
  }

  Result<pid_t> StartEchoIn(const std::string& who, const std::string& netns,
                            const std::vector<int>& tcp, const std::vector<int>& udp,
                            const std::string& log_path) {
    auto join = [](const std::vector<int>& ports) {
      std::string list;
      for (int port : ports) list += (list.empty() ? "" : ",") + std::to_string(port);
      return list;
    };
    SpawnOptions echo{.argv = {SelfDir() + "/kubedp", "lab", "echo", "--lab", spec_.name, "--pod",
                               who, "--tcp", join(tcp), "--udp", join(udp), "--ready-fd", "3"},
                      .netns = NetnsPath(netns),
                      .log_path = log_path};
    return Spawn(echo, /*wait_ready=*/true);
  }

  LabSpec spec_;
  std::string file_;
  Json state_;
};

void CniDelete(const std::string& lab, const Json& pod, const Json& node) {
  Json config{{"cniVersion", "1.0.0"},
              {"name", "kubedp"},
              {"type", "kubedp-cni"},
              {"agentSocket", node["socket"]}};
  SpawnOptions cni{.argv = {SelfDir() + "/kubedp-cni"},
                   .netns = NetnsPath(node["netns"].get<std::string>()),
                   .log_path = NodeDir(lab, node["name"].get<std::string>()) + "/cni.log",
                   .env = {{"CNI_COMMAND", "DEL"},
                           {"CNI_CONTAINERID", pod["container_id"].get<std::string>()},
                           {"CNI_NETNS", NetnsPath(pod["netns"].get<std::string>())},
                           {"CNI_IFNAME", "eth0"},
                           {"CNI_PATH", SelfDir()}}};
  (void)RunCommand(cni, config.dump());
}

// Graceful part of the teardown: the runtime's DEL for each pod, then the processes.
void StopRecordedLab(const std::string& name, const Json& state) {
  std::map<std::string, Json> nodes;
  for (const auto& node : state.value("nodes", Json::array())) nodes[node["name"]] = node;
  for (const auto& pod : state.value("pods", Json::array())) {
    Stop(pod.value("echo_pid", 0));
    auto node = nodes.find(pod.value("node", ""));
    if (node != nodes.end() && Alive(node->second.value("agent_pid", 0))) {
      CniDelete(name, pod, node->second);
    }
  }
  for (const auto& [_, node] : nodes) Stop(node.value("agent_pid", 0));
  for (const auto& host : state.value("external", Json::array())) Stop(host.value("echo_pid", 0));
}

std::vector<std::string> NetnsWithPrefix(const std::string& prefix) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(kNetnsDir, ec)) {
    std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) == 0) names.push_back(name);
  }
  return names;
}

}  // namespace

Status Up(const std::string& file, const UpOptions& options) {
  std::ifstream in(file);
  if (!in) return Status::NotFound("cannot read lab file " + file);
  std::stringstream text;
  text << in.rdbuf();
  auto spec = ParseLabFile(text.str(), file);
  if (!spec.ok()) return spec.status();
  if (!options.name_override.empty()) {
    if (!ValidName(options.name_override)) return Status::Invalid("--name must be a-z, 0-9, '-'");
    spec->name = options.name_override;
  }
  if (fs::exists(LabDir(spec->name))) {
    return Status::Error(EEXIST, "lab '" + spec->name +
                                     "' is already up; run 'kubedp lab down --name " + spec->name +
                                     "' first");
  }
  KUBEDP_RETURN_IF_ERROR(datapath::EnsureBpffsMounted());
  fs::create_directories(LabDir(spec->name));
  std::string name = spec->name;
  LabBuilder builder(std::move(spec).value(), fs::absolute(file).string());
  if (Status status = builder.Build(); !status.ok()) {
    (void)Down(name);
    return status.Context("lab " + name);
  }
  return Status::Ok();
}

Status Down(const std::string& name) {
  if (auto state = LoadState(name); state.ok()) StopRecordedLab(name, *state);
  std::string prefix = "kubedp_" + name + "_";
  // Whatever a crash left: processes in the lab's namespaces, then the namespaces.
  for (const auto& netns : NetnsWithPrefix(prefix)) {
    for (pid_t pid : ProcessesInNetns(NetnsPath(netns))) Stop(pid, 2000);
  }
  std::vector<std::string> failures;
  for (const auto& netns : NetnsWithPrefix(prefix)) {
    if (auto s = RunIp({"netns", "delete", netns}); !s.ok()) failures.push_back(s.message());
  }
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(datapath::kPinParent, ec)) {
    std::string id = entry.path().filename().string();
    if (id.rfind(name + "_", 0) != 0) continue;
    if (auto s = datapath::RemoveNodePinDir(id); !s.ok()) failures.push_back(s.message());
  }
  fs::remove_all(LabDir(name), ec);
  if (fs::is_empty(kLabRoot, ec) && !ec) fs::remove(kLabRoot, ec);
  if (fs::is_empty(kRunRoot, ec) && !ec) fs::remove(kRunRoot, ec);
  if (!failures.empty())
    return Status::Error(EIO, "lab " + name + " teardown: " + failures.front());
  return Status::Ok();
}

Status RestartAgent(const std::string& name, const std::string& node_name) {
  auto state = LoadState(name);
  if (!state.ok()) return state.status();
  for (auto& node : (*state)["nodes"]) {
    if (node["name"] != node_name) continue;
    Stop(node.value("agent_pid", 0));
    std::string log_path = NodeDir(name, node_name) + "/agent.log";
    auto pid = Spawn({.argv = node["agent_argv"], .log_path = log_path});
    if (!pid.ok()) return pid.status();
    node["agent_pid"] = *pid;
    KUBEDP_RETURN_IF_ERROR(WriteFileAtomically(LabDir(name) + "/state.json", state->dump(2)));
    return WaitForAgent(*pid, node["socket"], log_path);
  }
  return Status::NotFound("lab " + name + " has no node " + node_name);
}

namespace {

std::string PodKey(const Json& pod) {
  return pod["namespace"].get<std::string>() + "/" + pod["name"].get<std::string>();
}

Json* FindPod(Json& state, const std::string& key) {
  for (auto& pod : state["pods"]) {
    if (PodKey(pod) == key) return &pod;
  }
  return nullptr;
}

bool HasPod(const Json& state, const std::string& key) {
  const Json& pods = state["pods"];
  return std::any_of(pods.begin(), pods.end(), [&](const Json& pod) { return PodKey(pod) == key; });
}

// Writes the node's pods and waits until its agent has applied them.
Status PublishPods(const std::string& name, const Json& state, const std::string& node) {
  auto before = AgentGeneration(name, node);
  if (!before.ok()) return before.status();
  KUBEDP_RETURN_IF_ERROR(WriteNodePods(name, state, node));
  return WaitForAgentGeneration(name, node, *before);
}

}  // namespace

Status AddPods(const std::string& name, const std::string& file) {
  auto state = LoadState(name);
  if (!state.ok()) return state.status();
  std::ifstream in(file);
  if (!in) return Status::NotFound("cannot read " + file);
  std::stringstream text;
  text << in.rdbuf();
  auto spec = ParseLabFile(text.str(), file);
  if (!spec.ok()) return spec.status();
  LabBuilder builder(name, *state);
  std::set<std::string> nodes;
  for (size_t i = 0; i < spec->pods.size(); ++i) {
    LabPod pod = spec->pods[i];
    Json document = spec->pod_documents[i];
    if (pod.node == spec->nodes.front().name && !builder.HasNode(pod.node)) {
      pod.node = (*state)["nodes"][0]["name"];  // no nodeName: the lab's first node
      document["spec"]["nodeName"] = pod.node;
    }
    std::string key = pod.namespace_ + "/" + pod.name;
    if (!builder.HasNode(pod.node)) return Status::Invalid(key + ": no node " + pod.node);
    if (HasPod(builder.State(), key)) {
      return Status::Error(EEXIST, "pod " + key + " is already in the lab");
    }
    KUBEDP_RETURN_IF_ERROR(builder.AddPod(pod, document));
    nodes.insert(pod.node);
  }
  for (const auto& node : nodes) KUBEDP_RETURN_IF_ERROR(PublishPods(name, builder.State(), node));
  return Status::Ok();
}

Status DeletePod(const std::string& name, const std::string& key) {
  auto state = LoadState(name);
  if (!state.ok()) return state.status();
  Json* pod = FindPod(*state, key);
  if (!pod) return Status::NotFound("lab " + name + " has no pod " + key);
  Json removed = *pod;
  Json node;
  for (const auto& n : (*state)["nodes"]) {
    if (n["name"] == removed["node"]) node = n;
  }
  Stop(removed.value("echo_pid", 0));
  CniDelete(name, removed, node);
  (void)RunIp({"netns", "delete", removed["netns"].get<std::string>()});
  auto& pods = (*state)["pods"];
  for (size_t i = 0; i < pods.size(); ++i) {
    if (pods[i]["container_id"] == removed["container_id"]) pods.erase(i);
  }
  KUBEDP_RETURN_IF_ERROR(WriteFileAtomically(LabDir(name) + "/state.json", state->dump(2)));
  return PublishPods(name, *state, removed["node"]);
}

Status LabelPod(const std::string& name, const std::string& key,
                const std::map<std::string, std::optional<std::string>>& changes) {
  auto state = LoadState(name);
  if (!state.ok()) return state.status();
  Json* pod = FindPod(*state, key);
  if (!pod) return Status::NotFound("lab " + name + " has no pod " + key);
  Json& labels = (*pod)["document"]["metadata"]["labels"];
  if (!labels.is_object()) labels = Json::object();
  for (const auto& [label, value] : changes) {
    if (value) {
      labels[label] = *value;
    } else {
      labels.erase(label);
    }
  }
  KUBEDP_RETURN_IF_ERROR(WriteFileAtomically(LabDir(name) + "/state.json", state->dump(2)));
  return PublishPods(name, *state, (*pod)["node"]);
}

std::vector<std::string> FindLabs() {
  std::set<std::string> labs;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(kLabRoot, ec)) {
    labs.insert(entry.path().filename().string());
  }
  for (const auto& netns : NetnsWithPrefix("kubedp_")) {
    std::string rest = netns.substr(7);
    labs.insert(rest.substr(0, rest.find('_')));
  }
  for (const auto& entry : fs::directory_iterator(datapath::kPinParent, ec)) {
    std::string id = entry.path().filename().string();
    if (id.find('_') != std::string::npos) labs.insert(id.substr(0, id.find('_')));
  }
  return {labs.begin(), labs.end()};
}

namespace {

// The cluster as the lab's agents read it: every node's manifest directory.
k8s::ClusterState LabClusterState(const std::string& name, const Json& state) {
  k8s::ClusterState cluster;
  for (const auto& node : state["nodes"]) {
    source::ManifestDirectory dir(NodeDir(name, node["name"].get<std::string>()) + "/manifests");
    dir.Reload();
    const k8s::ClusterState& part = dir.State();
    cluster.namespaces.insert(part.namespaces.begin(), part.namespaces.end());
    cluster.pods.insert(part.pods.begin(), part.pods.end());
    cluster.services.insert(part.services.begin(), part.services.end());
    cluster.endpoint_slices.insert(part.endpoint_slices.begin(), part.endpoint_slices.end());
    cluster.network_policies.insert(part.network_policies.begin(), part.network_policies.end());
    cluster.nodes.insert(part.nodes.begin(), part.nodes.end());
    cluster.config_maps.insert(part.config_maps.begin(), part.config_maps.end());
  }
  return cluster;
}

}  // namespace

Result<std::vector<ProbeCell>> ProbeMatrix(const std::string& name, int timeout_ms) {
  auto state = LoadState(name);
  if (!state.ok()) return state.status();
  const k8s::ClusterState cluster = LabClusterState(name, *state);
  const Json& pods = (*state)["pods"];
  std::vector<std::vector<ProbeCell>> per_source(pods.size());
  std::vector<std::thread> workers;
  for (size_t s = 0; s < pods.size(); ++s) {
    workers.emplace_back([&, s] {
      const Json& from = pods[s];
      std::string from_key =
          from["namespace"].get<std::string>() + "/" + from["name"].get<std::string>();
      // setns is per thread: each source pod probes from its own namespace.
      auto guard = netdev::NetnsGuard::Enter(NetnsPath(from["netns"]));
      for (const auto& to : pods) {
        std::string to_key =
            to["namespace"].get<std::string>() + "/" + to["name"].get<std::string>();
        auto ip = ParseIpv4(to.value("ip", ""));
        for (const auto& port : to["ports"]) {
          ProbeCell cell{from_key, to_key, port["port"], port["protocol"], true, false, ""};
          // Expected: what the cluster's NetworkPolicies say (the oracle).
          control::ConnectionQuery query{.source = {.pod = from_key},
                                         .destination = {.pod = to_key},
                                         .port = cell.port,
                                         .protocol = cell.protocol};
          cell.expected = control::EvaluatePolicy(cluster, query).allowed;
          if (!guard.ok()) {
            cell.detail = guard.status().message();
          } else if (!ip.ok()) {
            cell.detail = "destination has no IP";
          } else {
            ProbeResult result = Probe({*ip, cell.port, cell.protocol}, timeout_ms);
            cell.observed = result.connected && result.answered_by == to_key;
            cell.detail = result.error.empty() ? "answered by " + result.answered_by : result.error;
          }
          per_source[s].push_back(cell);
        }
      }
    });
  }
  for (auto& worker : workers) worker.join();
  std::vector<ProbeCell> cells;
  for (auto& row : per_source) cells.insert(cells.end(), row.begin(), row.end());
  return cells;
}

std::string FormatMatrix(const std::vector<ProbeCell>& cells) {
  std::vector<std::string> sources, targets;
  std::map<std::pair<std::string, std::string>, std::string> marks;
  size_t mismatches = 0;
  for (const auto& cell : cells) {
    std::string target = cell.to + ":" + std::to_string(cell.port) + "/" + cell.protocol;
    if (std::find(sources.begin(), sources.end(), cell.from) == sources.end())
      sources.push_back(cell.from);
    if (std::find(targets.begin(), targets.end(), target) == targets.end())
      targets.push_back(target);
    std::string mark = cell.observed ? "ok" : "X";
    if (cell.observed != cell.expected) {
      mark += "!";
      ++mismatches;
    }
    marks[{cell.from, target}] = mark;
  }
  size_t width = 4;
  for (const auto& s : sources) width = std::max(width, s.size());
  std::ostringstream out;
  out << "Connectivity observed on the wire (ok = answered by the right pod, X = no answer,\n"
         "! = differs from what the cluster's rules expect). Columns:\n";
  for (size_t i = 0; i < targets.size(); ++i) out << "  [" << i + 1 << "] " << targets[i] << "\n";
  out << std::string(width, ' ');
  for (size_t i = 0; i < targets.size(); ++i)
    out << " " << std::setw(4) << ("[" + std::to_string(i + 1) + "]");
  out << "\n";
  for (const auto& source : sources) {
    out << source << std::string(width - source.size(), ' ');
    for (const auto& target : targets) out << " " << std::setw(4) << marks[{source, target}];
    out << "\n";
  }
  out << cells.size() << " probes, " << mismatches << " differ from expected\n";
  return out.str();
}

Json MatrixJson(const std::vector<ProbeCell>& cells) {
  Json out = Json::array();
  for (const auto& c : cells) {
    out.push_back(Json{{"from", c.from},
                       {"to", c.to},
                       {"port", c.port},
                       {"protocol", c.protocol},
                       {"expected", c.expected},
                       {"observed", c.observed},
                       {"detail", c.detail}});
  }
  return out;
}

}  // namespace kubedp::lab
