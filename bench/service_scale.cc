#include "bench/service_scale.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <thread>

#include "bench/kube_proxy_rules.h"
#include "bench/lab_agent.h"
#include "bench/load.h"
#include "bench/topology.h"
#include "lab/lab.h"
#include "lab/process.h"

namespace kubedp::bench {
namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

constexpr const char* kProbeVip = "10.99.0.1";  // a Service whose one endpoint comes and goes

double MillisSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// One level of the benchmark: how many Services and what else is loaded.
struct Level {
  std::string label;  // "1", "10k", "30k"
  SyntheticCluster cluster;
};

std::vector<Level> LevelsFor(bool short_mode) {
  if (short_mode) return {{"1k", {1000, 4, 100}}};
  // 30k x 8 endpoints = 240k backends: the backend table holds 262,144.
  return {{"10k", {10000, 10, 1000}}, {"30k", {30000, 8, 1000}}};
}

// The probe Service with its one endpoint (the server pod) or none.
std::string ProbeManifest(const std::string& server_ip, bool with_endpoint) {
  Json endpoints = Json::array();
  if (with_endpoint) {
    endpoints.push_back({{"addresses", {server_ip}}, {"conditions", {{"ready", true}}}});
  }
  Json items = Json::array(
      {{{"apiVersion", "v1"},
        {"kind", "Service"},
        {"metadata", {{"name", "probe"}, {"namespace", "bench"}}},
        {"spec", {{"clusterIP", kProbeVip}, {"ports", {{{"port", 80}, {"targetPort", 8080}}}}}}},
       {{"apiVersion", "discovery.k8s.io/v1"},
        {"kind", "EndpointSlice"},
        {"metadata",
         {{"name", "probe-1"},
          {"namespace", "bench"},
          {"labels", {{"kubernetes.io/service-name", "probe"}}}}},
        {"addressType", "IPv4"},
        {"ports", {{{"port", 8080}, {"protocol", "TCP"}}}},
        {"endpoints", endpoints}}});
  return Json{{"apiVersion", "v1"}, {"kind", "List"}, {"items", items}}.dump();
}

// One endpoint change: from the rename of the file until a connection from
// the client pod shows it (answered once added, refused once removed).
Result<double> ChangeEndpoint(const Topologies& t, LabAgent& agent, bool add) {
  std::string path = t.NodeManifestDir() + "/probe.json";
  {
    std::ofstream out(path + ".tmp~");  // "~": not a manifest until renamed
    out << ProbeManifest(t.kubedp_server_ip, add);
  }
  auto start = Clock::now();
  if (rename((path + ".tmp~").c_str(), path.c_str()) != 0) {
    return Status::FromErrno(errno, "renaming into " + path);
  }
  double millis = MillisUntil(t.kubedp_client_netns, kProbeVip, 80, add, start, 10000);
  if (millis < 0) return Status::Error(ETIMEDOUT, "endpoint change not live within 10 s");
  // The agent answers once it has finished: the next change starts clean.
  auto cluster = agent.Cluster();
  if (!cluster.ok()) return cluster.status();
  return millis;
}

// Runs a program in a baseline variant's node namespace with input on stdin;
// returns its wall time. Its stderr goes to <lab dir>/<program>.log.
Result<double> TimedIn(const Topologies& t, const std::string& variant,
                       const std::vector<std::string>& argv, const std::string& input) {
  std::string netns = t.Variant(variant, "n");
  std::string log = lab::LabDir(t.lab()) + "/" + argv.front() + ".log";
  lab::SpawnOptions spawn{.argv = {"/usr/bin/env", "ip", "netns", "exec", netns}, .log_path = log};
  spawn.argv.insert(spawn.argv.end(), argv.begin(), argv.end());
  auto start = Clock::now();
  auto result = lab::RunCommand(spawn, input);
  double millis = MillisSince(start);
  if (!result.ok()) return result.status();
  if (result->exit_code != 0) {
    return Status::Error(EIO, argv.front() + " in " + netns + " failed (see " + log + ")");
  }
  return millis;
}

Result<double> ProgramIptables(const Topologies& t, const SyntheticCluster& cluster,
                               const MeasuredService& measured) {
  return TimedIn(t, "ipt", {"iptables-restore"}, IptablesRestoreInput(cluster, measured));
}

Result<double> ProgramNftables(const Topologies& t, const SyntheticCluster& cluster,
                               const MeasuredService& measured) {
  return TimedIn(t, "nft", {"nft", "-f", "-"}, NftablesInput(cluster, measured));
}

bool KernelHasIpvs() {
  std::ifstream config("/proc/net/ip_vs");
  return config.good();
}

}  // namespace

Result<std::vector<Row>> MeasureServiceScale(const ServiceScaleOptions& options) {
  auto topologies = Topologies::Build({.lab_tag = "scale", .variants = {"ipt", "nft"}});
  if (!topologies.ok()) return topologies.status();
  Topologies& t = **topologies;
  // A second lab holds just its one Service: the flatness baseline, measured
  // in the same rounds as the lab with thousands.
  auto single = Topologies::Build({.lab_tag = "one"});
  if (!single.ok()) return single.status();
  Topologies& one = **single;
  auto rss_one = LabAgent(one.lab(), one.NodeManifestDir(), one.AgentPid()).ResidentMiB();
  if (!rss_one.ok()) return rss_one.status();
  LabAgent agent(t.lab(), t.NodeManifestDir(), t.AgentPid());
  MeasuredService measured{.vip = Topologies::kVip, .backend = Topologies::kBareServer};
  const int change_samples = options.short_mode ? 6 : 40;
  const int apply_rounds = options.short_mode ? 1 : 3;

  std::vector<Row> rows;
  std::map<std::string, std::vector<double>> changes;  // by level
  auto probe = agent.Apply("probe.json", ProbeManifest(t.kubedp_server_ip, false));
  if (!probe.ok()) return probe.status();

  for (const Level& level : LevelsFor(options.short_mode)) {
    const SyntheticCluster& cluster = level.cluster;
    auto applied = agent.Apply("scale.json", KubedpManifest(cluster));
    if (!applied.ok()) return applied.status();
    auto state = agent.Cluster();
    if (!state.ok()) return state.status();
    size_t expected = static_cast<size_t>(cluster.services) + 2;  // + the lab's and the probe
    if ((*state)["services"].get<size_t>() != expected ||
        (*state)["network_policies"].get<size_t>() != static_cast<size_t>(cluster.policies) + 1) {
      return Status::Error(EIO, "the agent holds " + state->dump() + " at level " + level.label);
    }
    auto ipt = ProgramIptables(t, cluster, measured);
    if (!ipt.ok()) return ipt.status();
    auto nft = ProgramNftables(t, cluster, measured);
    if (!nft.ok()) return nft.status();
    std::fprintf(stderr,
                 "services %s: kubedp applied in %.0f ms (agent: %s), iptables-restore %.0f ms, "
                 "nft -f %.0f ms\n",
                 level.label.c_str(), *applied, (*state)["last_apply"].dump().c_str(), *ipt, *nft);

    Row vs_ipt{.name = "ClusterIP connects, " + level.label + " Services",
               .unit = "conn/s",
               .baseline_name = "kube-proxy iptables, " + level.label,
               .goal = level.label == "30k" ? "ratio >= 6" : "ratio >= 3"};
    Row vs_nft{.name = "ClusterIP connects, " + level.label + " Services",
               .unit = "conn/s",
               .baseline_name = "kube-proxy nftables, " + level.label,
               .goal = "ratio >= 1.15"};
    Row flat{.name = "ClusterIP connects, " + level.label + " Services",
             .unit = "conn/s",
             .baseline_name = "kubedp, 1 Service",
             .goal = "ratio >= 0.97"};
    std::string ipt_client = NetnsPath(t.Variant("ipt", "c"));
    std::string nft_client = NetnsPath(t.Variant("nft", "c"));
    for (int round = 0; round < options.rounds; ++round) {
      flat.kubedp.push_back(
          ConnectRate(t.kubedp_client_netns, Topologies::kVip, 80, options.seconds));
      flat.baseline.push_back(
          ConnectRate(one.kubedp_client_netns, Topologies::kVip, 80, options.seconds));
      vs_ipt.baseline.push_back(ConnectRate(ipt_client, Topologies::kVip, 80, options.seconds));
      vs_nft.baseline.push_back(ConnectRate(nft_client, Topologies::kVip, 80, options.seconds));
    }
    vs_ipt.kubedp = vs_nft.kubedp = flat.kubedp;
    if (flat.KubedpFigure() == 0 || flat.BaselineFigure() == 0 || vs_ipt.BaselineFigure() == 0 ||
        vs_nft.BaselineFigure() == 0) {
      return Status::Error(EIO, "a ClusterIP did not answer at level " + level.label);
    }
    flat.met = flat.Ratio() >= 0.97;
    vs_ipt.met = vs_ipt.Ratio() >= (level.label == "30k" ? 6 : 3);
    vs_nft.met = vs_nft.Ratio() >= 1.15;
    rows.push_back(flat);
    rows.push_back(vs_ipt);
    rows.push_back(vs_nft);
    for (int i = 0; i < change_samples; ++i) {
      auto millis = ChangeEndpoint(t, agent, i % 2 == 0);
      if (!millis.ok()) return millis.status();
      changes[level.label].push_back(*millis);
    }

    if (level.label == (options.short_mode ? "1k" : "10k")) {
      auto rss = agent.ResidentMiB();
      if (!rss.ok()) return rss.status();
      Row memory{.name = "agent resident memory, " + level.label + " Services + " +
                         std::to_string(cluster.services * cluster.endpoints_per_service) +
                         " endpoints + " + std::to_string(cluster.policies) + " policies",
                 .unit = "MiB",
                 .higher_is_better = false,
                 .kubedp = {*rss},
                 .baseline = {*rss_one},
                 .baseline_name = "agent, 1 Service",
                 .goal = "< 150 MiB"};
      memory.met = *rss < 150;
      rows.push_back(memory);

      Row bulk{.name = "bulk apply, " + level.label + " Services + " +
                       std::to_string(cluster.services * cluster.endpoints_per_service) +
                       " endpoints",
               .unit = "ms",
               .higher_is_better = false,
               .kubedp = {*applied},
               .baseline = {*ipt},
               .baseline_name = "iptables-restore",
               .goal = "<= 1000 ms and ratio <= 0.33"};
      for (int round = 1; round < apply_rounds; ++round) {
        KUBEDP_RETURN_IF_ERROR(agent.Remove("scale.json"));
        auto again = agent.Apply("scale.json", KubedpManifest(cluster));
        if (!again.ok()) return again.status();
        bulk.kubedp.push_back(*again);
        KUBEDP_RETURN_IF_ERROR(TimedIn(t, "ipt", {"iptables", "-t", "nat", "-F"}, "").status());
        auto restore = ProgramIptables(t, cluster, measured);
        if (!restore.ok()) return restore.status();
        bulk.baseline.push_back(*restore);
      }
      bulk.met = bulk.KubedpFigure() <= 1000 && bulk.Ratio() <= 0.33;
      rows.push_back(bulk);
    }
  }

  const std::string small = options.short_mode ? "1k" : "10k";
  const std::string large = options.short_mode ? "1k" : "30k";
  Row change{.name = "endpoint change live (p99), " + small + " Services + policies",
             .unit = "ms",
             .higher_is_better = false,
             .kubedp = changes[small],
             .baseline = {},
             .baseline_name = "",
             .goal = "p99 <= 10 ms",
             .p99 = true};
  change.met = change.KubedpFigure() <= 10;
  rows.push_back(change);
  if (large != small) {
    Row growth{.name = "endpoint change live (p99), " + large + " vs " + small + " Services",
               .unit = "ms",
               .higher_is_better = false,
               .kubedp = changes[large],
               .baseline = changes[small],
               .baseline_name = small + " Services",
               .goal = "ratio <= 1.1",
               .p99 = true};
    growth.met = growth.Ratio() <= 1.1;
    rows.push_back(growth);
  }
  if (!KernelHasIpvs()) {
    std::fprintf(
        stderr,
        "kube-proxy IPVS baseline not run: this kernel has no IP_VS (no /proc/net/ip_vs)\n");
  }
  return rows;
}

}  // namespace kubedp::bench
