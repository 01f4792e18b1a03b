#include "bench/traffic.h"

#include <bpf/bpf.h>
#include <poll.h>

#include <atomic>
#include <cstdio>
#include <functional>
#include <thread>

#include <nlohmann/json.hpp>

#include "bench/conntrack_scale.h"
#include "bench/lab_agent.h"
#include "bench/load.h"
#include "bench/policy_scale.h"
#include "bench/topology.h"
#include "common/fd.h"
#include "datapath/conntrack_map.h"
#include "datapath/conntrack_sweeper.h"
#include "datapath/gc_program.h"
#include "datapath/pins.h"
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

// New connections through the ClusterIP while the node's conntrack table,
// filled with synthetic flows, is swept back to back the way the agent
// sweeps it (its sweeper: short calls at idle priority), against no sweep.
Result<Row> ConnectsDuringSweeps(const Topologies& t, const TrafficOptions& options) {
  std::string pin_dir = datapath::NodePinDir(t.lab() + "_node1");
  auto gc = datapath::GcProgram::Load(pin_dir, {.ct_max_entries = kLabCtEntries});
  if (!gc.ok()) return gc.status();
  UniqueFd ct(bpf_obj_get((pin_dir + "/" + KDP_MAP_CT).c_str()));
  if (!ct.valid()) return Status::FromErrno(errno, "opening the lab's conntrack map");
  auto sweeper = datapath::ConntrackSweeper::Start(**gc);
  if (!sweeper.ok()) return sweeper.status();
  const uint32_t records = options.short_mode ? 100'000 : 1'000'000;
  KUBEDP_RETURN_IF_ERROR(FillConntrack(ct.get(), records, /*half_expired=*/false));
  Row row{.name = "new connections during conntrack sweeps, " + std::to_string(records / 1000) +
                  "k records",
          .unit = "conn/s",
          .baseline_name = "no sweep running",
          .goal = "ratio >= 0.95"};
  uint64_t sweeps = 0;
  Interleave(
      options.rounds, row,
      [&] {
        std::atomic<bool> stop{false};
        pollfd done{.fd = (*sweeper)->fd(), .events = POLLIN, .revents = 0};
        std::thread sweeping([&] {
          while (!stop) {
            (*sweeper)->Request(/*urgent=*/false);
            while (!stop && poll(&done, 1, 50) == 0) {
            }
            if ((*sweeper)->Take()) ++sweeps;
          }
        });
        double rate = ConnectRate(t.kubedp_client_netns, Topologies::kVip, 80, options.seconds);
        stop = true;
        sweeping.join();
        // The sweep in flight finishes before the other side's round.
        if (poll(&done, 1, 30000) > 0 && (*sweeper)->Take()) ++sweeps;
        return rate;
      },
      [&] { return ConnectRate(t.kubedp_client_netns, Topologies::kVip, 80, options.seconds); });
  std::fprintf(stderr, "conntrack sweeps finished during the connect rounds: %.1f per second\n",
               sweeps / (options.rounds * options.seconds));
  sweeper->reset();  // before the map it sweeps
  KUBEDP_RETURN_IF_ERROR(RemoveSyntheticConntrack(ct.get(), records));
  row.met = row.Ratio() >= 0.95;
  return row;
}

// New connections from 32 clients in a pod to a host off the node, through
// kubedp's SNAT, against iptables MASQUERADE with nf_conntrack in the bare
// node. A failed attempt (a port collision would show as one) is counted.
Result<Row> MasqueradeConnects(const Topologies& t, const TrafficOptions& options) {
  constexpr int kClients = 32;
  Row row{.name = "masquerade: connects to an off-node host, 32 clients",
          .unit = "conn/s",
          .baseline_name = "iptables MASQUERADE + nf_conntrack",
          .goal = "ratio >= 1.0, no connection lost"};
  uint64_t failed_kubedp = 0, failed_iptables = 0;
  std::string masq_client = NetnsPath(t.Variant("masq", "c"));
  LabAgent agent(t.lab(), t.NodeManifestDir(), t.AgentPid());
  auto drops_before = agent.Drops();
  if (!drops_before.ok()) return drops_before.status();
  Interleave(
      options.rounds, row,
      [&] {
        auto result = ParallelConnectRate(t.kubedp_client_netns, Topologies::kExternalHost,
                                          kEchoPort, options.seconds, kClients);
        failed_kubedp += result.failed;
        return result.per_second;
      },
      [&] {
        auto result = ParallelConnectRate(masq_client, Topologies::kBareServer, kEchoPort,
                                          options.seconds, kClients);
        failed_iptables += result.failed;
        return result.per_second;
      });
  row.note = std::to_string(failed_kubedp) + " kubedp / " + std::to_string(failed_iptables) +
             " iptables connections failed";
  // What the datapath dropped meanwhile says why kubedp's failed, if any did.
  auto drops_after = agent.Drops();
  if (!drops_after.ok()) return drops_after.status();
  for (const auto& [reason, packets] : *drops_after) {
    uint64_t before = drops_before->contains(reason) ? drops_before->at(reason) : 0;
    if (packets > before)
      row.note += "; dropped " + reason + ": " + std::to_string(packets - before);
  }
  row.met = row.Ratio() >= 1.0 && failed_kubedp == 0;
  return row;
}

}  // namespace

Result<std::vector<Row>> MeasureTraffic(const TrafficOptions& options) {
  auto topologies = Topologies::Build(
      {.lab_tag = "traffic", .variants = {"bare", "masq"}, .iperf = options.throughput});
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

  auto sweeping = ConnectsDuringSweeps(t, options);
  if (!sweeping.ok()) return sweeping.status();
  rows.push_back(*sweeping);

  auto masquerade = MasqueradeConnects(t, options);
  if (!masquerade.ok()) return masquerade.status();
  rows.push_back(*masquerade);

  auto policy = MeasurePolicyScale(
      t, {.rounds = options.rounds, .seconds = options.seconds, .short_mode = options.short_mode});
  if (!policy.ok()) return policy.status();
  rows.insert(rows.end(), policy->begin(), policy->end());

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
