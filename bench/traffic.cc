#include "bench/traffic.h"

#include <functional>

#include <nlohmann/json.hpp>

#include "bench/load.h"
#include "bench/topology.h"
#include "lab/process.h"

namespace kubedp::bench {
namespace {

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
  auto topologies =
      Topologies::Build({.lab_tag = "traffic", .variants = {"bare"}, .iperf = options.throughput});
  if (!topologies.ok()) return topologies.status();
  Topologies& t = **topologies;
  std::string bare_client = NetnsPath(t.Variant("bare", "c"));
  std::vector<Row> rows;

  Row rr{.name = "tcp request/response, pod to pod under policy",
         .unit = "tx/s",
         .baseline_name = "bare veth path",
         .goal = "ratio >= 0.95"};
  Interleave(
      options.rounds, rr,
      [&] {
        return RequestResponse(t.kubedp_client_netns, t.kubedp_server_ip, kEchoPort,
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
      [&] { return ConnectRate(t.kubedp_client_netns, Topologies::kVip, 80, options.seconds); },
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
          options.rounds, bulk, [&] { return measure(t.kubedp_client_netns, t.kubedp_server_ip); },
          [&] { return measure(bare_client, Topologies::kBareServer); });
      if (!failed.ok()) return failed;
      bulk.met = bulk.Ratio() >= 0.97;
      rows.push_back(bulk);
    }
  }
  return rows;
}

}  // namespace kubedp::bench
