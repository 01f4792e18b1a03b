// `kubedp lab`: a real cluster dataplane on one machine. Each node is a network
// namespace with its own agent; each pod a network namespace wired through the
// CNI plugin exactly as a kubelet would, running an echo server on its ports.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "k8s/objects.h"

namespace kubedp::lab {

using Json = nlohmann::json;

struct LabNode {
  std::string name;
  std::string pod_cidr;
  std::vector<std::string> agent_args;  // extra kubedp-agent flags (spec.nodes[].agentArgs)
};

// A host outside the cluster on the nodes' network (spec.external[]), running
// the echo server on its ports: the far end for masquerade, NodePort and
// LoadBalancer traffic.
struct ExternalHost {
  std::string name;
  std::string ip;  // in the lab network; default 192.0.2.(100 + index)
  std::vector<int> tcp_ports;
  std::vector<int> udp_ports;
};

struct LabPod {
  std::string namespace_;
  std::string name;
  std::string node;
  std::vector<k8s::ContainerPort> ports;
  std::string ip;  // filled in by `up`
};

// A lab file: ordinary manifests plus one `kind: Lab` document
// (apiVersion kubedp.io/v1alpha1) naming the lab and its nodes.
struct LabSpec {
  std::string name;
  std::vector<LabNode> nodes;
  std::vector<LabPod> pods;
  std::vector<ExternalHost> external;
  std::vector<Json> cluster_documents;  // everything but pods and the Lab section
  std::vector<Json> pod_documents;      // each pod, same order as pods
};

Result<LabSpec> ParseLabFile(const std::string& text, const std::string& origin);

// Where a lab keeps its state: /run/kubedp/lab/<name>.
std::string LabDir(const std::string& name);
std::string NodeSocket(const std::string& lab, const std::string& node);
// Network namespace names: kubedp_<lab>_<node>, kubedp_<lab>_pod_<ns>_<pod>,
// kubedp_<lab>_lan (the nodes' network: a bridge) and kubedp_<lab>_ext_<host>.
std::string NodeNetns(const std::string& lab, const std::string& node);
std::string PodNetns(const std::string& lab, const std::string& ns, const std::string& pod);
std::string LanNetns(const std::string& lab);
std::string ExternalNetns(const std::string& lab, const std::string& host);

// The lab network: every node's uplink (eth0, 192.0.2.(11 + index)/24) and
// every external host sit on one bridge; 192.0.2.1 is the nodes' gateway.
inline constexpr const char* kLabNetwork = "192.0.2.0/24";
inline constexpr const char* kLabUplink = "eth0";

struct UpOptions {
  std::string name_override;
};
Status Up(const std::string& file, const UpOptions& options);
// Removes everything of the lab, also after a crash; fine when nothing is there.
Status Down(const std::string& name);
// Stops a node's agent and starts a new one with the same flags, waiting until
// it answers: the datapath must carry traffic across this.
Status RestartAgent(const std::string& name, const std::string& node);

// Changes to a running lab while traffic runs, as a kubelet would make them;
// each returns once the node's agent has applied the change.
// AddPods: the Pods of a manifest file start (CNI ADD, echo server).
Status AddPods(const std::string& name, const std::string& file);
// DeletePod: the pod's echo server stops, CNI DEL, it leaves the node's pods.
Status DeletePod(const std::string& name, const std::string& pod_key);
// LabelPod: sets labels (a value) or removes them (nullopt).
Status LabelPod(const std::string& name, const std::string& pod_key,
                const std::map<std::string, std::optional<std::string>>& changes);

// Every lab found on the machine (state dirs and kubedp-* namespaces).
std::vector<std::string> FindLabs();

struct ProbeCell {
  std::string from;  // ns/pod
  std::string to;    // ns/pod
  int port;
  std::string protocol;
  bool expected;  // what the cluster's NetworkPolicies say (the policy oracle)
  bool observed;  // what happened on the wire
  std::string detail;
};
// timeout_ms bounds each probe; a denied TCP probe costs all of it.
Result<std::vector<ProbeCell>> ProbeMatrix(const std::string& name, int timeout_ms = 1000);
std::string FormatMatrix(const std::vector<ProbeCell>& cells);
Json MatrixJson(const std::vector<ProbeCell>& cells);

// Loads the saved state of a running lab.
Result<Json> LoadState(const std::string& name);

}  // namespace kubedp::lab
