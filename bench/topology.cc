#include "bench/topology.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <tuple>

#include "bench/load.h"
#include "common/fd.h"
#include "lab/lab.h"
#include "lab/process.h"
#include "netdev/netdev.h"

namespace kubedp::bench {
namespace {

Status Ip(const std::vector<std::string>& args) {
  lab::SpawnOptions options{.argv = {"/usr/bin/env", "ip"}};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  auto result = lab::RunCommand(options, "");
  if (!result.ok()) return result.status();
  if (result->exit_code != 0) return Status::Error(EIO, "ip " + args.front() + " failed");
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Topologies>> Topologies::Build(const Options& options) {
  std::unique_ptr<Topologies> t(
      new Topologies("e2e-bench-" + options.lab_tag + "-" + std::to_string(getpid())));
  KUBEDP_RETURN_IF_ERROR(lab::Up(std::string(KUBEDP_BENCH_DIR) + "/manifests/bench-lab.yaml",
                                 {.name_override = t->lab_}));
  t->up_ = true;
  KUBEDP_RETURN_IF_ERROR(t->ReadLab());
  for (const auto& variant : options.variants) KUBEDP_RETURN_IF_ERROR(t->BuildVariant(variant));
  if (options.iperf) {
    KUBEDP_RETURN_IF_ERROR(t->StartIperf(t->kubedp_server_netns));
    KUBEDP_RETURN_IF_ERROR(t->StartIperf(NetnsPath(t->Variant("bare", "s"))));
  }
  return t;
}

Topologies::~Topologies() {
  for (pid_t pid : processes_) lab::Stop(pid);
  if (up_) (void)lab::Down(lab_);
}

std::string Topologies::Variant(const std::string& variant, const std::string& role) const {
  return "kubedp_" + lab_ + "_" + variant + "_" + role;
}

std::string Topologies::NodeManifestDir() const {
  return lab::LabDir(lab_) + "/nodes/node1/manifests";
}

Status Topologies::ReadLab() {
  auto state = lab::LoadState(lab_);
  if (!state.ok()) return state.status();
  agent_pid_ = (*state)["nodes"][0]["agent_pid"].get<pid_t>();
  for (const auto& pod : (*state)["pods"]) {
    std::string netns = NetnsPath(pod["netns"].get<std::string>());
    if (pod["name"] == "client") kubedp_client_netns = netns;
    if (pod["name"] == "server") {
      kubedp_server_netns = netns;
      kubedp_server_ip = pod["ip"];
      PinTo(pod["echo_pid"].get<pid_t>(), 1);
    }
  }
  for (const auto& host : (*state)["external"]) PinTo(host["echo_pid"].get<pid_t>(), 1);
  return Status::Ok();
}

Status Topologies::BuildVariant(const std::string& variant) {
  std::string c = Variant(variant, "c"), n = Variant(variant, "n"), s = Variant(variant, "s");
  for (const auto& ns : {c, n, s}) {
    KUBEDP_RETURN_IF_ERROR(Ip({"netns", "add", ns}));
    KUBEDP_RETURN_IF_ERROR(Ip({"-n", ns, "link", "set", "lo", "up"}));
  }
  for (auto [peer, side, node_addr, peer_addr] :
       {std::tuple{c, "vc", "10.200.1.1/24", "10.200.1.2/24"},
        std::tuple{s, "vs", "10.200.2.1/24", "10.200.2.2/24"}}) {
    KUBEDP_RETURN_IF_ERROR(
        Ip({"-n", n, "link", "add", side, "type", "veth", "peer", "name", "eth0", "netns", peer}));
    KUBEDP_RETURN_IF_ERROR(Ip({"-n", n, "addr", "add", node_addr, "dev", side}));
    KUBEDP_RETURN_IF_ERROR(Ip({"-n", n, "link", "set", side, "up"}));
    KUBEDP_RETURN_IF_ERROR(Ip({"-n", peer, "addr", "add", peer_addr, "dev", "eth0"}));
    KUBEDP_RETURN_IF_ERROR(Ip({"-n", peer, "link", "set", "eth0", "up"}));
    std::string gateway(node_addr);
    gateway = gateway.substr(0, gateway.find('/'));
    KUBEDP_RETURN_IF_ERROR(Ip({"-n", peer, "route", "add", "default", "via", gateway}));
  }
  auto forwarding = lab::RunCommand({.argv = {"/usr/bin/env", "ip", "netns", "exec", n, "sysctl",
                                              "-qw", "net.ipv4.ip_forward=1"}},
                                    "");
  if (!forwarding.ok() || forwarding->exit_code != 0) {
    return Status::Error(EIO, "enabling forwarding in " + n);
  }
  if (variant == "masq") {
    auto masquerade = lab::RunCommand(
        {.argv = {"/usr/bin/env", "ip", "netns", "exec", n, "iptables", "-t", "nat", "-A",
                  "POSTROUTING", "-s", "10.200.1.0/24", "-o", "vs", "-j", "MASQUERADE"}},
        "");
    if (!masquerade.ok() || masquerade->exit_code != 0) {
      return Status::Error(EIO, "adding the MASQUERADE rule in " + n);
    }
  }
  auto echo = lab::Spawn(
      {.argv = {lab::SelfDir() + "/kubedp", "lab", "echo", "--lab", lab_, "--pod",
                variant + "/server", "--tcp", std::to_string(kEchoPort), "--ready-fd", "3"},
       .netns = NetnsPath(s),
       .log_path = lab::LabDir(lab_) + "/echo-" + variant + "-server.log"},
      /*wait_ready=*/true);
  if (!echo.ok()) return echo.status();
  processes_.push_back(*echo);
  PinTo(*echo, 1);
  return Status::Ok();
}

Status Topologies::StartIperf(const std::string& netns) {
  auto pid = lab::Spawn(
      {.argv = {"/usr/bin/env", "iperf3", "-s", "-p", std::to_string(kIperfPort)}, .netns = netns});
  if (!pid.ok()) return pid.status();
  processes_.push_back(*pid);
  PinTo(*pid, 1);
  // Ready once it accepts.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < deadline) {
    auto guard = netdev::NetnsGuard::Enter(netns);
    if (!guard.ok()) return guard.status();
    UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{.sin_family = AF_INET,
                     .sin_port = htons(kIperfPort),
                     .sin_addr = {htonl(INADDR_LOOPBACK)},
                     .sin_zero = {}};
    if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      return Status::Ok();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Status::Error(ETIMEDOUT, "iperf3 server in " + netns + " did not start");
}

}  // namespace kubedp::bench
