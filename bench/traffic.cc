#include "bench/traffic.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/fd.h"
#include "lab/lab.h"
#include "lab/process.h"
#include "netdev/netdev.h"

namespace kubedp::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint16_t kEchoPort = 8080;
constexpr uint16_t kIperfPort = 5201;

std::string NetnsPath(const std::string& name) {
  return "/run/netns/" + name;
}

void PinTo(pid_t pid, int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu % std::max(1u, std::thread::hardware_concurrency()), &set);
  sched_setaffinity(pid, sizeof(set), &set);
}

Status Ip(const std::vector<std::string>& args) {
  lab::SpawnOptions options{.argv = {"/usr/bin/env", "ip"}};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  auto result = lab::RunCommand(options, "");
  if (!result.ok()) return result.status();
  if (result->exit_code != 0) return Status::Error(EIO, "ip " + args.front() + " failed");
  return Status::Ok();
}

bool ReadLine(int fd) {
  char buffer[256];
  while (true) {
    pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
    if (poll(&p, 1, 2000) <= 0) return false;
    ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) return false;
    if (std::memchr(buffer, '\n', static_cast<size_t>(n))) return true;
  }
}

UniqueFd Connect(const std::string& ip, uint16_t port) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return UniqueFd();
  if (!ReadLine(fd.get())) return UniqueFd();  // the server's greeting
  return fd;
}

// Runs `work` in the client's namespace on CPU 0; returns what it counted per second.
double PerSecond(const std::string& netns, double seconds,
                 const std::function<bool()>& one_operation) {
  uint64_t count = 0;
  Clock::time_point start, end;
  std::thread worker([&] {
    auto guard = netdev::NetnsGuard::Enter(netns);
    if (!guard.ok()) return;
    PinTo(0, 0);
    start = Clock::now();
    auto deadline = start + std::chrono::duration<double>(seconds);
    while (Clock::now() < deadline) {
      if (!one_operation()) break;
      ++count;
    }
    end = Clock::now();
  });
  worker.join();
  double elapsed = std::chrono::duration<double>(end - start).count();
  return elapsed > 0 ? count / elapsed : 0;
}

// Request/response on one established connection: a line out, a line back.
double RequestResponse(const std::string& netns, const std::string& ip, uint16_t port,
                       double seconds) {
  UniqueFd fd;
  return PerSecond(netns, seconds, [&] {
    if (!fd.valid()) fd = Connect(ip, port);  // in the worker's namespace
    return fd.valid() && send(fd.get(), "x\n", 2, MSG_NOSIGNAL) == 2 && ReadLine(fd.get());
  });
}

// New connections: connect, the greeting, close with a reset (no TIME_WAIT
// left to exhaust the client's ports over many rounds).
double ConnectRate(const std::string& netns, const std::string& ip, uint16_t port, double seconds) {
  return PerSecond(netns, seconds, [&] {
    UniqueFd fd = Connect(ip, port);
    if (!fd.valid()) return false;
    linger reset{.l_onoff = 1, .l_linger = 0};
    setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
    return true;
  });
}

Result<double> IperfGbits(const std::string& netns, const std::string& ip, double seconds,
                          int streams) {
  int whole = std::max(1, static_cast<int>(seconds + 0.5));
  std::string name = netns.substr(netns.rfind('/') + 1);  // `ip netns exec` takes the name
  auto result =
      lab::RunCommand({.argv = {"/usr/bin/env", "ip", "netns", "exec", name, "taskset", "-c", "0",
                                "iperf3", "-c", ip, "-p", std::to_string(kIperfPort), "-t",
                                std::to_string(whole), "-P", std::to_string(streams), "-J"}},
                      "");
  if (!result.ok()) return result.status();
  auto json = nlohmann::json::parse(result->out, nullptr, false);
  if (result->exit_code != 0 || json.is_discarded() || !json.contains("end")) {
    return Status::Error(EIO, "iperf3 to " + ip + " failed: " + result->out.substr(0, 200));
  }
  return json["end"]["sum_received"]["bits_per_second"].get<double>() / 1e9;
}

// Both topologies, torn down together (the bare namespaces carry the lab's
// prefix, so `kubedp lab down` finds them after a crash too).
class Topologies {
 public:
  static Result<std::unique_ptr<Topologies>> Build(bool iperf) {
    std::unique_ptr<Topologies> t(new Topologies("e2e-bench-" + std::to_string(getpid())));
    KUBEDP_RETURN_IF_ERROR(lab::Up(std::string(KUBEDP_BENCH_DIR) + "/manifests/bench-lab.yaml",
                                   {.name_override = t->lab_}));
    t->up_ = true;
    KUBEDP_RETURN_IF_ERROR(t->ReadLab());
    KUBEDP_RETURN_IF_ERROR(t->BuildBare());
    if (iperf) {
      KUBEDP_RETURN_IF_ERROR(t->StartIperf(t->kubedp_server_netns_));
      KUBEDP_RETURN_IF_ERROR(t->StartIperf(t->Bare("s")));
    }
    return t;
  }
  ~Topologies() {
    for (pid_t pid : processes_) lab::Stop(pid);
    if (up_) (void)lab::Down(lab_);
  }

  std::string Bare(const std::string& role) const { return "kubedp_" + lab_ + "_bare_" + role; }

  std::string kubedp_client_netns_, kubedp_server_netns_, kubedp_server_ip_;
  static constexpr const char* kBareServer = "10.200.2.2";
  static constexpr const char* kVip = "10.96.0.50";

 private:
  explicit Topologies(std::string lab) : lab_(std::move(lab)) {}

  Status ReadLab() {
    auto state = lab::LoadState(lab_);
    if (!state.ok()) return state.status();
    for (const auto& pod : (*state)["pods"]) {
      std::string netns = NetnsPath(pod["netns"].get<std::string>());
      if (pod["name"] == "client") kubedp_client_netns_ = netns;
      if (pod["name"] == "server") {
        kubedp_server_netns_ = netns;
        kubedp_server_ip_ = pod["ip"];
        PinTo(pod["echo_pid"].get<pid_t>(), 1);
      }
    }
    return Status::Ok();
  }

  Status BuildBare() {
    std::string c = Bare("c"), n = Bare("n"), s = Bare("s");
    for (const auto& ns : {c, n, s}) {
      KUBEDP_RETURN_IF_ERROR(Ip({"netns", "add", ns}));
      KUBEDP_RETURN_IF_ERROR(Ip({"-n", ns, "link", "set", "lo", "up"}));
    }
    for (auto [peer, side, node_addr, peer_addr] :
         {std::tuple{c, "vc", "10.200.1.1/24", "10.200.1.2/24"},
          std::tuple{s, "vs", "10.200.2.1/24", "10.200.2.2/24"}}) {
      KUBEDP_RETURN_IF_ERROR(Ip(
          {"-n", n, "link", "add", side, "type", "veth", "peer", "name", "eth0", "netns", peer}));
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
    auto echo =
        lab::Spawn({.argv = {lab::SelfDir() + "/kubedp", "lab", "echo", "--lab", lab_, "--pod",
                             "bare/server", "--tcp", std::to_string(kEchoPort), "--ready-fd", "3"},
                    .netns = NetnsPath(s),
                    .log_path = lab::LabDir(lab_) + "/echo-bare-server.log"},
                   /*wait_ready=*/true);
    if (!echo.ok()) return echo.status();
    processes_.push_back(*echo);
    PinTo(*echo, 1);
    return Status::Ok();
  }

  Status StartIperf(const std::string& netns) {
    std::string path = netns.rfind("/run/netns/", 0) == 0 ? netns : NetnsPath(netns);
    auto pid =
        lab::Spawn({.argv = {"/usr/bin/env", "iperf3", "-s", "-p", std::to_string(kIperfPort)},
                    .netns = path});
    if (!pid.ok()) return pid.status();
    processes_.push_back(*pid);
    PinTo(*pid, 1);
    // Ready once it accepts.
    auto deadline = Clock::now() + std::chrono::seconds(5);
    while (Clock::now() < deadline) {
      auto guard = netdev::NetnsGuard::Enter(path);
      if (!guard.ok()) return guard.status();
      UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
      sockaddr_in addr{.sin_family = AF_INET,
                       .sin_port = htons(kIperfPort),
                       .sin_addr = {htonl(INADDR_LOOPBACK)},
                       .sin_zero = {}};
      if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0)
        return Status::Ok();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return Status::Error(ETIMEDOUT, "iperf3 server in " + netns + " did not start");
  }

  std::string lab_;
  bool up_ = false;
  std::vector<pid_t> processes_;
};

// Runs a and b alternately, round after round.
void Interleave(int rounds, Row& row, const std::function<double()>& a,
                const std::function<double()>& b) {
  for (int round = 0; round < rounds; ++round) {
    row.kubedp.push_back(a());
    row.baseline.push_back(b());
  }
}

}  // namespace

Result<std::vector<Row>> MeasureTraffic(const TrafficOptions& options) {
  auto topologies = Topologies::Build(options.throughput);
  if (!topologies.ok()) return topologies.status();
  Topologies& t = **topologies;
  std::string bare_client = NetnsPath(t.Bare("c"));
  std::vector<Row> rows;

  Row rr{.name = "tcp request/response, pod to pod under policy",
         .unit = "tx/s",
         .baseline_name = "bare veth path",
         .goal = "ratio >= 0.95"};
  Interleave(
      options.rounds, rr,
      [&] {
        return RequestResponse(t.kubedp_client_netns_, t.kubedp_server_ip_, kEchoPort,
                               options.seconds);
      },
      [&] {
        return RequestResponse(bare_client, Topologies::kBareServer, kEchoPort, options.seconds);
      });
  rr.met = rr.Ratio() >= 0.95;
  rows.push_back(rr);

  Row connects{.name = "new connections through a ClusterIP",
               .unit = "conn/s",
               .baseline_name = "bare pod-IP connects",
               .goal = "ratio >= 0.95"};
  Interleave(
      options.rounds, connects,
      [&] { return ConnectRate(t.kubedp_client_netns_, Topologies::kVip, 80, options.seconds); },
      [&] {
        return ConnectRate(bare_client, Topologies::kBareServer, kEchoPort, options.seconds);
      });
  connects.met = connects.Ratio() >= 0.95;
  rows.push_back(connects);

  if (options.throughput) {
    for (int streams : {1, 2}) {
      Row bulk{.name = "iperf3 throughput, " + std::to_string(streams) + " stream(s)",
               .unit = "Gbit/s",
               .baseline_name = "bare veth path",
               .goal = "ratio >= 0.97"};
      Status failed = Status::Ok();
      auto measure = [&](const std::string& netns, const std::string& ip) {
        auto gbits = IperfGbits(netns, ip, options.seconds, streams);
        if (!gbits.ok()) failed = gbits.status();
        return gbits.ok() ? *gbits : 0.0;
      };
      Interleave(
          options.rounds, bulk,
          [&] { return measure(t.kubedp_client_netns_, t.kubedp_server_ip_); },
          [&] { return measure(bare_client, Topologies::kBareServer); });
      if (!failed.ok()) return failed;
      bulk.met = bulk.Ratio() >= 0.97;
      rows.push_back(bulk);
    }
  }
  return rows;
}

}  // namespace kubedp::bench
