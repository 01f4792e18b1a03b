// kubedp-agent: wiring only. Flags -> AgentConfig -> Agent.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <map>

#include "agent/agent.h"
#include "common/log.h"
#include "control/conntrack.h"
#include "datapath/libbpf_log.h"

int main(int argc, char** argv) {
  kubedp::agent::AgentConfig config;
  std::string log_level = "info";
  bool uninstall = false;
  bool remove_state = false;

  CLI::App app{"kubedp-agent: the node agent of the kubedp dataplane"};
  app.add_option("--node-name", config.node_name, "Name of this node (its Node object)")
      ->required();
  app.add_option("--manifest-dir", config.manifest_dir,
                 "Directory of Kubernetes manifests to read cluster state from");
  app.add_option("--state-dir", config.state_dir, "Endpoint and IPAM store directory")
      ->default_val("/var/lib/kubedp");
  app.add_option("--run-dir", config.run_dir, "Directory of the API socket")
      ->default_val("/run/kubedp");
  app.add_option("--netns", config.netns, "Join this network namespace first (lab nodes)");
  app.add_option("--pod-cidr", config.pod_cidr, "Pod range of this node (else Node.spec.podCIDR)");
  app.add_option("--datapath-id", config.datapath_id,
                 "Name of the node's bpffs directory (default: the node name)");
  app.add_option("--ipam-grace-seconds", config.ipam_grace_seconds,
                 "Age after which an address of a pod that is gone is freed")
      ->capture_default_str();
  app.add_option("--ipam-reclaim-interval-seconds", config.ipam_reclaim_interval_seconds,
                 "How often to look for addresses of pods that are gone")
      ->capture_default_str();
  app.add_option("--policy-log-file", config.policy_log_file,
                 "Where policy verdict records go (rotated at 10 MB, 5 kept)")
      ->capture_default_str();
  app.add_option("--nodeport-range", config.nodeport_range, "NodePort range, FIRST-LAST")
      ->capture_default_str();
  app.add_option("--reserve-nodeport-range", config.reserve_nodeport_range,
                 "Add the NodePort range to net.ipv4.ip_local_reserved_ports")
      ->capture_default_str();
  config.ct_timeouts = kubedp::control::DefaultCtTimeouts();
  auto& ct = config.ct_timeouts;
  app.add_option("--ct-max-entries", config.ct_max_entries, "Size of the conntrack map")
      ->capture_default_str();
  app.add_option("--ct-gc-interval-seconds", config.ct_gc_interval_seconds,
                 "How often expired conntrack records are removed")
      ->capture_default_str();
  app.add_option("--ct-timeout-tcp-syn", ct.tcp_syn, "Seconds")->capture_default_str();
  app.add_option("--ct-timeout-tcp-established", ct.tcp_established, "Seconds")
      ->capture_default_str();
  app.add_option("--ct-timeout-tcp-fin-wait", ct.tcp_fin_wait, "Seconds")->capture_default_str();
  app.add_option("--ct-timeout-tcp-close", ct.tcp_close, "Seconds")->capture_default_str();
  app.add_option("--ct-timeout-udp", ct.udp_unreplied, "Seconds, before a reply")
      ->capture_default_str();
  app.add_option("--ct-timeout-udp-replied", ct.udp_replied, "Seconds")->capture_default_str();
  app.add_option("--ct-timeout-icmp", ct.icmp, "Seconds")->capture_default_str();
  app.add_option("--node-device", config.node_device,
                 "The node's uplink for NodePorts and masquerade (default: the default "
                 "route's device; 'none': no node device)");
  app.add_option("--masquerade", config.masquerade,
                 "Give pod traffic leaving the cluster the node's address (ip-masq-agent "
                 "ConfigMap kube-system/ip-masq-agent lists the exceptions)")
      ->capture_default_str();
  app.add_option("--snat-port-range", config.snat_port_range,
                 "Source ports for masquerade, FIRST-LAST (default: above the NodePort range)");
  app.add_option("--nat-max-entries", config.nat_max_entries,
                 "Size of the NAT map (two entries per translated flow)")
      ->capture_default_str();
  std::map<std::string, kubedp::control::LbAlgorithm> algorithms{
      {"random", kubedp::control::LbAlgorithm::kRandom},
      {"maglev", kubedp::control::LbAlgorithm::kMaglev}};
  app.add_option("--lb-algorithm", config.lb_algorithm,
                 "How Services pick backends unless annotated kubedp.io/lb-algorithm: random or "
                 "maglev")
      ->transform(CLI::CheckedTransformer(algorithms, CLI::ignore_case))
      ->default_str("random");
  app.add_option("--cgroup-root", config.cgroup_root,
                 "cgroup the Service socket hooks attach to (default: the cgroup v2 root; "
                 "'none': none)");
  app.add_option("--log-level", log_level, "debug, info, warn or error")->default_val("info");
  app.add_flag("--uninstall", uninstall, "Remove pins, devices and socket of this node, then exit");
  app.add_flag("--remove-state", remove_state, "With --uninstall: also delete the store");
  CLI11_PARSE(app, argc, argv);

  kubedp::log::Init("agent", log_level);
  kubedp::datapath::RouteLibbpfLogs();
  if (uninstall) {
    auto status = kubedp::agent::Agent::Uninstall(config, remove_state);
    if (!status.ok()) {
      kubedp::log::Error("uninstall failed", {{"reason", status.message()}});
      return 1;
    }
    return 0;
  }
  auto agent = kubedp::agent::Agent::Start(config);
  if (!agent.ok()) {
    kubedp::log::Error("agent failed to start", {{"reason", agent.status().message()}});
    return 1;
  }
  auto status = (*agent)->Run();
  if (!status.ok()) {
    kubedp::log::Error("agent stopped on error", {{"reason", status.message()}});
    return 1;
  }
  return 0;
}
