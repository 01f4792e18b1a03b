// kubedp: the command-line interface. Talks to a node's agent over its socket
// and drives the local lab.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <thread>

#include "api/rpc.h"
#include "common/log.h"
#include "lab/echo.h"
#include "lab/lab.h"

namespace {

using kubedp::api::Json;

struct Target {
  std::string socket = "/run/kubedp/agent.sock";
  std::string lab;
  std::string node;
  std::string output = "text";

  std::string Socket() const {
    if (!lab.empty()) return kubedp::lab::NodeSocket(lab, node.empty() ? "node1" : node);
    return socket;
  }
};

void AddTargetOptions(CLI::App* cmd, Target& target) {
  cmd->add_option("--socket", target.socket, "Agent API socket")->capture_default_str();
  cmd->add_option("--lab", target.lab, "Talk to a node of this lab instead");
  cmd->add_option("--node", target.node, "Node of the lab (default node1)");
  cmd->add_option("-o,--output", target.output, "text or json")
      ->check(CLI::IsMember({"text", "json"}));
}

int Fail(const kubedp::Status& status) {
  std::cerr << "error: " << status.message() << "\n";
  return 1;
}

std::string Pad(const std::string& text, size_t width) {
  return text.size() >= width ? text + " " : text + std::string(width - text.size(), ' ');
}

std::string Str(const Json& value) {
  return value.is_string() ? value.get<std::string>() : value.dump();
}

void PrintStatus(const Json& s) {
  std::cout << "Node:        " << Str(s["node"]) << (s["healthy"].get<bool>() ? " (healthy)" : "")
            << "\nUptime:      " << Str(s["uptime_seconds"]) << "s"
            << "\nPod CIDR:    " << Str(s["pod_cidr"]) << " (router " << Str(s["router_ip"]) << ")"
            << "\nPins:        " << Str(s["pin_dir"])
            << "\nProgram:     " << Str(s["program"]["name"]) << " id " << Str(s["program"]["id"])
            << ", " << Str(s["program"]["verified_instructions"]) << " instructions verified"
            << "\nEndpoints:   " << Str(s["endpoints"])
            << "\nIPAM:        " << Str(s["ipam"]["allocated"]) << " of "
            << Str(s["ipam"]["usable"]) << " addresses allocated, " << Str(s["ipam"]["live_pods"])
            << " live pods, " << Str(s["ipam"]["exhaustion_events"]) << " exhaustion events";
  auto fill = [](const Json& table) {
    if (!table.is_object() || !table.contains("entries")) return std::string("-");
    char percent[16];
    std::snprintf(percent, sizeof(percent), "%.1f%%", 100 * table["fill"].get<double>());
    return Str(table["entries"]) + "/" + Str(table["max_entries"]) + " (" + percent + ")" +
           (table["pressure"].get<bool>() ? " PRESSURE: raise the size" : "");
  };
  std::cout << "\nConntrack:   " << fill(s["conntrack"]) << "\nNAT:         " << fill(s["nat"]);
  if (s.contains("nat") && s["nat"].contains("snat_port_range")) {
    std::cout << ", SNAT ports " << Str(s["nat"]["snat_port_range"]);
  }
  const Json& device = s.value("node_device", Json::object());
  std::cout << "\nNode device: "
            << (device.value("device", Json()).is_null()
                    ? std::string("none (off-node traffic left to the kernel)")
                    : Str(device["device"]) + " " + Str(device["ip"]));
  const Json& masq = s.value("masquerade", Json::object());
  if (!masq.empty()) {
    std::string except;
    for (const auto& cidr : masq["non_masquerade_cidrs"]) except += " " + Str(cidr);
    std::cout << "\nMasquerade:  " << (masq["enabled"].get<bool>() ? "on" : "off") << " ("
              << Str(masq["source"]) << "), not to" << except;
    if (!masq["error"].is_null()) std::cout << "\n  rejected config: " << Str(masq["error"]);
  }
  if (s.contains("port_checks") && !s["port_checks"].value("overlap", Json()).is_null()) {
    std::cout << "\nPort ranges: ephemeral ports overlap the NodePort range in "
              << Str(s["port_checks"]["overlap"]);
  }
  std::cout << "\n\nAttachments:\n";
  for (const auto& a : s["attachments"]) {
    std::cout << "  " << Pad(Str(a["interface"]), 18) << Pad(Str(a["hook"]), 12) << "program "
              << Str(a["program_id"]) << (a["current"].get<bool>() ? "" : " (stale)") << "\n";
  }
  for (const auto& p : device.value("programs", Json::array())) {
    std::cout << "  " << Pad(Str(device["device"]), 18) << Pad(Str(p["hook"]), 12) << "program "
              << Str(p["id"]) << " " << Str(p["program"])
              << (p["current"].get<bool>() ? "" : " (stale)") << "\n";
  }
  std::cout << "\nMaps:\n";
  for (const auto& m : s["maps"]) {
    std::cout << "  " << Pad(Str(m["name"]), 16) << Pad(Str(m["type"]), 14) << Str(m["entries"])
              << "/" << Str(m["max_entries"]) << "\n";
  }
  std::cout << "\nDatapath counters:\n";
  for (const auto& m : s["metrics"]) {
    std::cout << "  " << Pad(Str(m["reason"]), 22) << Pad(Str(m["direction"]), 10)
              << Str(m["packets"]) << " packets, " << Str(m["bytes"]) << " bytes\n";
  }
  auto list = [](const char* title, const Json& items, auto line) {
    std::cout << "\n" << title << ":" << (items.empty() ? " none\n" : "\n");
    for (const auto& item : items) std::cout << "  " << line(item) << "\n";
  };
  list("Recent errors", s["recent_errors"],
       [](const Json& e) { return Str(e["time"]) + " " + Str(e["message"]); });
  list("Manifest errors", s["manifest_errors"],
       [](const Json& e) { return Str(e["path"]) + ": " + Str(e["message"]); });
  list("Recent drops", s["recent_drops"], [](const Json& d) {
    return Str(d["time"]) + " " + Str(d["reason"]) + " " + Str(d["source"]) + " -> " +
           Str(d["destination"]) + ":" + Str(d["destination_port"]);
  });
}

void PrintEndpoints(const Json& endpoints) {
  std::cout << Pad("ID", 6) << Pad("NAMESPACE/POD", 28) << Pad("IP", 16) << Pad("INTERFACE", 18)
            << "PROGRAM\n";
  for (const auto& e : endpoints) {
    std::cout << Pad(Str(e["endpoint_id"]), 6) << Pad(Str(e["namespace"]) + "/" + Str(e["pod"]), 28)
              << Pad(Str(e["ip"]), 16) << Pad(Str(e["interface"]), 18) << Str(e["program_id"])
              << "\n";
  }
}

void PrintAllocations(const Json& allocations) {
  std::cout << Pad("IP", 16) << Pad("NAMESPACE/POD", 28) << Pad("CONTAINER", 14) << Pad("AGE", 8)
            << "LIVE\n";
  for (const auto& a : allocations) {
    std::string live = a["live"].get<bool>() ? "yes" : "no";
    if (!a["netns_exists"].get<bool>()) live += " (netns gone)";
    std::cout << Pad(Str(a["ip"]), 16) << Pad(Str(a["namespace"]) + "/" + Str(a["pod"]), 28)
              << Pad(Str(a["container_id"]).substr(0, 12), 14)
              << Pad(Str(a["age_seconds"]) + "s", 8) << live << "\n";
  }
}

void PrintConntrack(const Json& rows) {
  std::cout << Pad("PROTO", 6) << Pad("SOURCE", 22) << Pad("DESTINATION", 22) << Pad("STATE", 12)
            << Pad("PACKETS", 12) << Pad("AGE", 8) << "EXPIRES\n";
  for (const auto& r : rows) {
    std::cout << Pad(Str(r["protocol"]), 6)
              << Pad(Str(r["source"]) + ":" + Str(r["source_port"]), 22)
              << Pad(Str(r["destination"]) + ":" + Str(r["destination_port"]), 22)
              << Pad(Str(r["state"]), 12)
              << Pad(Str(r["packets_original"]) + "/" + Str(r["packets_reply"]), 12)
              << Pad(Str(r["age_seconds"]) + "s", 8) << Str(r["expires_in_seconds"]) << "s\n";
  }
}

void PrintNat(const Json& rows) {
  std::cout << Pad("PROTO", 6) << Pad("KIND", 12) << Pad("ORIGINAL", 24) << Pad("TRANSLATED", 24)
            << Pad("REMOTE", 24) << "AGE\n";
  for (const auto& r : rows) {
    std::cout << Pad(Str(r["protocol"]), 6) << Pad(Str(r["kind"]), 12)
              << Pad(Str(r["original"]), 24) << Pad(Str(r["translated"]), 24)
              << Pad(Str(r["remote"]), 24) << Str(r["age_seconds"]) << "s\n";
  }
}

void PrintServices(const Json& result) {
  std::cout << Pad("SERVICE", 24) << Pad("TYPE", 13) << Pad("FRONTEND", 24) << "BACKENDS\n";
  for (const auto& f : result["services"]) {
    std::string backends;
    for (const auto& b : f["backends"]) {
      backends += (backends.empty() ? "" : ", ") + Str(b["ip"]) + ":" + Str(b["port"]) + " (" +
                  Str(b["state"]) + ")";
    }
    std::string frontend = Str(f["ip"]) + ":" + Str(f["port"]) + "/" + Str(f["protocol"]);
    std::string notes;
    if (f["affinity_timeout_seconds"].get<int>() > 0) notes += " affinity=ClientIP";
    if (f.value("algorithm", "random") == "maglev") notes += " lb=maglev";
    if (f.contains("counters")) {
      notes += " connections=" + Str(f["counters"]["connections"]) +
               " refused=" + Str(f["counters"]["refused"]);
    }
    if (f["external_traffic_local"].get<bool>()) notes += " externalTrafficPolicy=Local";
    if (f["internal_traffic_local"].get<bool>()) notes += " internalTrafficPolicy=Local";
    std::cout << Pad(Str(f["service"]), 24) << Pad(Str(f["kind"]), 13) << Pad(frontend, 24)
              << (backends.empty() ? "none" : backends) << notes << "\n";
  }
  for (const auto& e : result["errors"]) std::cout << "error: " << Str(e) << "\n";
}

void PrintReclaim(const Json& result) {
  bool dry = result["dry_run"].get<bool>();
  std::cout << (dry ? "Would free " : "Freed ") << result["released"].size() << " address(es)\n";
  for (const auto& r : result["released"]) {
    std::cout << "  " << Pad(Str(r["ip"]), 16) << Pad(Str(r["namespace"]) + "/" + Str(r["pod"]), 28)
              << Str(r["reason"]) << "\n";
  }
  for (const auto& e : result["errors"]) std::cout << "  error: " << Str(e) << "\n";
}

int CallAndPrint(const Target& target, const std::string& method, void (*print)(const Json&),
                 const Json& params = Json::object()) {
  auto result = kubedp::api::Call(target.Socket(), method, params);
  if (!result.ok()) return Fail(result.status());
  if (target.output == "json") {
    std::cout << result->dump(2) << "\n";
  } else {
    print(*result);
  }
  return 0;
}

std::string VerdictLine(const Json& r) {
  const Json& c = r["connection"];
  std::string line = Str(r["timestamp"]) + " " + Str(r["disposition"]) + " " + Str(c["direction"]) +
                     " " + Str(c["protocol"]) + " " + Str(c["src_ip"]) + ":" + Str(c["src_port"]) +
                     " -> " + Str(c["dest_ip"]) + ":" + Str(c["dest_port"]);
  for (const auto& side : {"src", "dest"}) {
    if (r[side].contains("pod_name")) {
      line += std::string(" ") + side + "=" + Str(r[side]["pod_namespace"]) + "/" +
              Str(r[side]["pod_name"]);
    }
  }
  if (r.contains("count")) line += " count=" + Str(r["count"]);
  std::string policies;
  for (const auto& p : r["policies"]) {
    policies += (policies.empty() ? "" : ",") + Str(p["namespace"]) + "/" + Str(p["name"]);
  }
  if (!policies.empty()) line += " policies=" + policies;
  return line;
}

// Polls the agent for new records; text lines or, with -o json, one record per line.
int FollowPolicyVerdicts(const Target& target, int count, double timeout_seconds) {
  uint64_t after = 0;
  int printed = 0;
  auto start = std::chrono::steady_clock::now();
  while (true) {
    auto result = kubedp::api::Call(target.Socket(), "monitor.poll", Json{{"after", after}});
    if (!result.ok()) return Fail(result.status());
    for (const auto& record : (*result)["records"]) {
      after = std::max(after, record["seq"].get<uint64_t>());
      std::cout << (target.output == "json" ? record.dump() : VerdictLine(record)) << std::endl;
      if (count > 0 && ++printed >= count) return 0;
    }
    auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (timeout_seconds > 0 && elapsed >= timeout_seconds) return count > 0 ? 3 : 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

std::vector<int> ParsePorts(const std::string& list) {
  std::vector<int> ports;
  std::stringstream stream(list);
  std::string item;
  while (std::getline(stream, item, ',')) {
    if (!item.empty()) ports.push_back(std::stoi(item));
  }
  return ports;
}

}  // namespace

int main(int argc, char** argv) {
  kubedp::log::Init("kubedp", "info");
  CLI::App app{"kubedp: a Kubernetes node dataplane on eBPF"};
  app.require_subcommand(1);

  Target status_target;
  auto* status = app.add_subcommand("status", "Agent health, programs, maps, endpoints, errors");
  AddTargetOptions(status, status_target);

  Target endpoint_target;
  auto* endpoint = app.add_subcommand("endpoint", "Endpoints of the node");
  endpoint->require_subcommand(1);
  auto* endpoint_list = endpoint->add_subcommand("list", "List the node's endpoints");
  AddTargetOptions(endpoint_list, endpoint_target);

  Target ipam_target;
  bool gc_dry_run = false;
  int64_t gc_grace_seconds = -1;
  auto* ipam = app.add_subcommand("ipam", "Pod address allocations of the node");
  ipam->require_subcommand(1);
  auto* ipam_list = ipam->add_subcommand("list", "Holders, age, and whether each pod is live");
  AddTargetOptions(ipam_list, ipam_target);
  auto* ipam_gc = ipam->add_subcommand("gc", "Free addresses of pods that are gone");
  AddTargetOptions(ipam_gc, ipam_target);
  ipam_gc->add_flag("--dry-run", gc_dry_run, "Show what would be freed");
  ipam_gc->add_option("--grace-seconds", gc_grace_seconds,
                      "Only allocations older than this (default: the agent's grace period)");

  Target trace_target;
  std::string trace_from, trace_to, trace_protocol = "TCP";
  int trace_port = 0;
  auto* policy = app.add_subcommand("policy", "NetworkPolicy");
  policy->require_subcommand(1);
  auto* trace = policy->add_subcommand(
      "trace", "Would this connection be allowed, and by which policy and rule?");
  AddTargetOptions(trace, trace_target);
  trace->add_option("--from", trace_from, "Source pod NS/POD (or an IPv4 address)")->required();
  trace->add_option("--to", trace_to, "Destination pod NS/POD (or an IPv4 address)")->required();
  trace->add_option("--port", trace_port, "Destination port")->required();
  trace->add_option("--protocol", trace_protocol, "TCP, UDP or SCTP")->capture_default_str();

  Target service_target;
  auto* service = app.add_subcommand("service", "Services of the cluster as the node sees them");
  service->require_subcommand(1);
  auto* service_list = service->add_subcommand("list", "Frontends, backends and their state");
  AddTargetOptions(service_list, service_target);

  Target monitor_target;
  std::string monitor_type = "policy-verdict";
  int monitor_count = 0;
  double monitor_timeout = 0;
  auto* monitor = app.add_subcommand("monitor", "Follow the node's records live");
  AddTargetOptions(monitor, monitor_target);
  monitor->add_option("--type", monitor_type, "Record type")
      ->check(CLI::IsMember({"policy-verdict"}))
      ->capture_default_str();
  monitor->add_option("--count", monitor_count, "Stop after this many records");
  monitor->add_option("--timeout", monitor_timeout, "Stop after this many seconds");

  Target ct_target;
  std::string ct_address, ct_protocol;
  int ct_port = -1;
  auto* ct = app.add_subcommand("ct", "Connection tracking table of the node");
  ct->require_subcommand(1);
  auto* ct_list = ct->add_subcommand("list", "Tracked flows, oriented from their initiator");
  AddTargetOptions(ct_list, ct_target);
  ct_list->add_option("--address", ct_address, "Only flows with this address at either end");
  ct_list->add_option("--port", ct_port, "Only flows with this port at either end");
  ct_list->add_option("--protocol", ct_protocol, "TCP, UDP or ICMP");
  auto* ct_flush = ct->add_subcommand("flush", "Remove every tracked flow");
  AddTargetOptions(ct_flush, ct_target);

  Target nat_target;
  auto* nat = app.add_subcommand("nat", "Source NAT table of the node device");
  nat->require_subcommand(1);
  auto* nat_list = nat->add_subcommand(
      "list", "Masqueraded pod flows and the node's own flows, with the ports they hold");
  AddTargetOptions(nat_list, nat_target);

  auto* lab = app.add_subcommand("lab", "A local cluster dataplane in network namespaces");
  lab->require_subcommand(1);
  // probe has its own name variable: CLI11's default_val writes it at once,
  // which would otherwise rename every lab that `up` builds.
  std::string lab_file, lab_name, probe_name, lab_output = "text";
  auto* lab_up = lab->add_subcommand("up", "Build the lab of FILE and start its pods");
  lab_up->add_option("file", lab_file, "Manifests plus a kind: Lab section")->required();
  lab_up->add_option("--name", lab_name, "Lab name (default: the Lab object's name)");
  auto* lab_probe =
      lab->add_subcommand("probe", "Probe every pod from every pod, print the matrix");
  lab_probe->add_option("--name", probe_name, "Lab name")->default_val("demo");
  lab_probe->add_option("-o,--output", lab_output)->check(CLI::IsMember({"text", "json"}));
  auto* lab_down =
      lab->add_subcommand("down", "Remove everything a lab made (all labs if no --name)");
  lab_down->add_option("--name", lab_name, "Lab name");

  std::string pod_lab = "demo", pod_file, pod_key;
  std::vector<std::string> pod_labels;
  auto* lab_pod = lab->add_subcommand("pod", "Change the pods of a running lab while traffic runs");
  lab_pod->require_subcommand(1);
  lab_pod->add_option("--name", pod_lab, "Lab name")->capture_default_str();
  auto* pod_add = lab_pod->add_subcommand("add", "Start the Pods of FILE");
  pod_add->add_option("file", pod_file, "Pod manifests")->required();
  auto* pod_delete = lab_pod->add_subcommand("delete", "Stop a pod: CNI DEL, gone from its node");
  pod_delete->add_option("pod", pod_key, "NAMESPACE/NAME")->required();
  auto* pod_label = lab_pod->add_subcommand("label", "Set (KEY=VALUE) or remove (KEY-) labels");
  pod_label->add_option("pod", pod_key, "NAMESPACE/NAME")->required();
  pod_label->add_option("labels", pod_labels, "KEY=VALUE or KEY-")->required();

  kubedp::lab::EchoConfig echo;
  std::string tcp_ports, udp_ports;
  auto* lab_echo = lab->add_subcommand("echo", "The pods' echo server (started by lab up)");
  lab_echo->group("");  // internal
  lab_echo->add_option("--lab", lab_name, "Lab the pod belongs to (shows in ps)");
  lab_echo->add_option("--pod", echo.pod)->required();
  lab_echo->add_option("--tcp", tcp_ports);
  lab_echo->add_option("--udp", udp_ports);
  lab_echo->add_option("--ready-fd", echo.ready_fd);

  CLI11_PARSE(app, argc, argv);

  if (*status) return CallAndPrint(status_target, "status", PrintStatus);
  if (*endpoint_list) return CallAndPrint(endpoint_target, "endpoint.list", PrintEndpoints);
  if (*service_list) return CallAndPrint(service_target, "service.list", PrintServices);
  if (*monitor) return FollowPolicyVerdicts(monitor_target, monitor_count, monitor_timeout);
  if (*trace) {
    auto side = [](const std::string& value, const char* pod_key, const char* ip_key) {
      return value.find('/') != std::string::npos ? Json{{pod_key, value}} : Json{{ip_key, value}};
    };
    Json params{{"port", trace_port}, {"protocol", trace_protocol}};
    params.update(side(trace_from, "from", "from_ip"));
    params.update(side(trace_to, "to", "to_ip"));
    return CallAndPrint(
        trace_target, "policy.trace", [](const Json& r) { std::cout << Str(r["text"]); }, params);
  }
  if (*ct_list) {
    Json params = Json::object();
    if (!ct_address.empty()) params["address"] = ct_address;
    if (ct_port >= 0) params["port"] = ct_port;
    if (!ct_protocol.empty()) params["protocol"] = ct_protocol;
    return CallAndPrint(ct_target, "ct.list", PrintConntrack, params);
  }
  if (*ct_flush) {
    return CallAndPrint(ct_target, "ct.flush", [](const Json& r) {
      std::cout << "flushed " << Str(r["flushed"]) << " flows\n";
    });
  }
  if (*nat_list) return CallAndPrint(nat_target, "nat.list", PrintNat);
  if (*ipam_list) return CallAndPrint(ipam_target, "ipam.list", PrintAllocations);
  if (*ipam_gc) {
    Json params{{"dry_run", gc_dry_run}};
    if (gc_grace_seconds >= 0) params["grace_seconds"] = gc_grace_seconds;
    return CallAndPrint(ipam_target, "ipam.reclaim", PrintReclaim, params);
  }
  if (*lab_up) {
    auto result = kubedp::lab::Up(lab_file, {.name_override = lab_name});
    if (!result.ok()) return Fail(result);
    return 0;
  }
  if (*lab_probe) {
    auto cells = kubedp::lab::ProbeMatrix(probe_name);
    if (!cells.ok()) return Fail(cells.status());
    if (lab_output == "json") {
      std::cout << kubedp::lab::MatrixJson(*cells).dump(2) << "\n";
    } else {
      std::cout << kubedp::lab::FormatMatrix(*cells);
    }
    for (const auto& cell : *cells) {
      if (cell.observed != cell.expected) return 2;
    }
    return 0;
  }
  if (*lab_down) {
    std::vector<std::string> names =
        lab_name.empty() ? kubedp::lab::FindLabs() : std::vector<std::string>{lab_name};
    int rc = 0;
    for (const auto& name : names) {
      if (auto s = kubedp::lab::Down(name); !s.ok()) rc = Fail(s);
    }
    return rc;
  }
  if (*pod_add) {
    if (auto s = kubedp::lab::AddPods(pod_lab, pod_file); !s.ok()) return Fail(s);
    return 0;
  }
  if (*pod_delete) {
    if (auto s = kubedp::lab::DeletePod(pod_lab, pod_key); !s.ok()) return Fail(s);
    return 0;
  }
  if (*pod_label) {
    std::map<std::string, std::optional<std::string>> changes;
    for (const auto& label : pod_labels) {
      auto eq = label.find('=');
      if (eq != std::string::npos) {
        changes[label.substr(0, eq)] = label.substr(eq + 1);
      } else if (!label.empty() && label.back() == '-') {
        changes[label.substr(0, label.size() - 1)] = std::nullopt;
      } else {
        std::cerr << "error: label '" << label << "' is neither KEY=VALUE nor KEY-\n";
        return 2;
      }
    }
    if (auto s = kubedp::lab::LabelPod(pod_lab, pod_key, changes); !s.ok()) return Fail(s);
    return 0;
  }
  if (*lab_echo) {
    echo.tcp_ports = ParsePorts(tcp_ports);
    echo.udp_ports = ParsePorts(udp_ports);
    auto result = kubedp::lab::RunEchoServer(echo);
    if (!result.ok()) return Fail(result);
    return 0;
  }
  return 0;
}
