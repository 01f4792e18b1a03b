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

// One run over the levels: the lab with many Services, the lab with one, and
// the kube-proxy topologies, loaded level by level.
class ScaleRun {
 public:
  ScaleRun(Topologies& t, Topologies& one, const ServiceScaleOptions& options)
      : t_(t), one_(one), options_(options), agent_(t.lab(), t.NodeManifestDir(), t.AgentPid()) {}

  // Loads the level into kubedp and both kube-proxy topologies; returns
  // kubedp's and iptables-restore's milliseconds.
  Result<std::pair<double, double>> Load(const Level& level) {
    auto applied = agent_.Apply("scale.json", KubedpManifest(level.cluster));
    if (!applied.ok()) return applied.status();
    auto state = agent_.Cluster();
    if (!state.ok()) return state.status();
    size_t services = static_cast<size_t>(level.cluster.services) + 2;  // + the lab's, the probe
    size_t policies = static_cast<size_t>(level.cluster.policies) + 1;  // + the lab's
    if ((*state)["services"].get<size_t>() != services ||
        (*state)["network_policies"].get<size_t>() != policies) {
      return Status::Error(EIO, "the agent holds " + state->dump() + " at level " + level.label);
    }
    auto ipt = ProgramIptables(t_, level.cluster, measured_);
    if (!ipt.ok()) return ipt.status();
    auto nft = ProgramNftables(t_, level.cluster, measured_);
    if (!nft.ok()) return nft.status();
    std::fprintf(stderr,
                 "services %s: kubedp applied in %.0f ms (agent: %s), iptables-restore %.0f ms, "
                 "nft -f %.0f ms\n",
                 level.label.c_str(), *applied, (*state)["last_apply"].dump().c_str(), *ipt, *nft);
    return std::pair{*applied, *ipt};
  }

  // Connects through the ClusterIP: kubedp against its one-Service lab, the
  // iptables and the nftables topology, all in the same rounds.
  Result<std::vector<Row>> ConnectRows(const Level& level) {
    auto row = [&](std::string baseline, std::string goal) {
      return Row{.name = "ClusterIP connects, " + level.label + " Services",
                 .unit = "conn/s",
                 .baseline_name = std::move(baseline),
                 .goal = std::move(goal)};
    };
    int iptables_goal = level.label == "30k" ? 6 : 3;
    Row flat = row("kubedp, 1 Service", "ratio >= 0.97");
    Row vs_ipt =
        row("kube-proxy iptables, " + level.label, "ratio >= " + std::to_string(iptables_goal));
    Row vs_nft = row("kube-proxy nftables, " + level.label, "ratio >= 1.15");
    auto connects = [&](const std::string& netns) {
      return ConnectRate(netns, Topologies::kVip, 80, options_.seconds);
    };
    for (int round = 0; round < options_.rounds; ++round) {
      flat.kubedp.push_back(connects(t_.kubedp_client_netns));
      flat.baseline.push_back(connects(one_.kubedp_client_netns));
      vs_ipt.baseline.push_back(connects(NetnsPath(t_.Variant("ipt", "c"))));
      vs_nft.baseline.push_back(connects(NetnsPath(t_.Variant("nft", "c"))));
    }
    vs_ipt.kubedp = vs_nft.kubedp = flat.kubedp;
    for (const Row* r : {&flat, &vs_ipt, &vs_nft}) {
      if (r->KubedpFigure() == 0 || r->BaselineFigure() == 0) {
        return Status::Error(EIO, "a ClusterIP did not answer at level " + level.label);
      }
    }
    flat.met = flat.Ratio() >= 0.97;
    vs_ipt.met = vs_ipt.Ratio() >= iptables_goal;
    vs_nft.met = vs_nft.Ratio() >= 1.15;
    return std::vector<Row>{flat, vs_ipt, vs_nft};
  }

  // The probe Service's endpoint added and removed, alternately.
  Result<std::vector<double>> EndpointChanges(int samples) {
    std::vector<double> millis;
    for (int i = 0; i < samples; ++i) {
      auto one = ChangeEndpoint(t_, agent_, i % 2 == 0);
      if (!one.ok()) return one.status();
      millis.push_back(*one);
    }
    return millis;
  }

  // The agent's memory and the bulk apply, at the level the goals name.
  Result<std::vector<Row>> LoadRows(const Level& level, double applied, double restored) {
    const SyntheticCluster& cluster = level.cluster;
    std::string endpoints = std::to_string(cluster.services * cluster.endpoints_per_service);
    auto rss = agent_.ResidentMiB();
    if (!rss.ok()) return rss.status();
    auto rss_one = LabAgent(one_.lab(), one_.NodeManifestDir(), one_.AgentPid()).ResidentMiB();
    if (!rss_one.ok()) return rss_one.status();
    Row memory{.name = "agent resident memory, " + level.label + " Services + " + endpoints +
                       " endpoints + " + std::to_string(cluster.policies) + " policies",
               .unit = "MiB",
               .higher_is_better = false,
               .kubedp = {*rss},
               .baseline = {*rss_one},
               .baseline_name = "agent, 1 Service",
               .goal = "< 150 MiB"};
    memory.met = *rss < 150;
    Row bulk{.name = "bulk apply, " + level.label + " Services + " + endpoints + " endpoints",
             .unit = "ms",
             .higher_is_better = false,
             .kubedp = {applied},
             .baseline = {restored},
             .baseline_name = "iptables-restore",
             .goal = "<= 1000 ms and ratio <= 0.33"};
    for (int round = 1; round < (options_.short_mode ? 1 : 3); ++round) {
      KUBEDP_RETURN_IF_ERROR(agent_.Remove("scale.json"));
      auto again = agent_.Apply("scale.json", KubedpManifest(cluster));
      if (!again.ok()) return again.status();
      bulk.kubedp.push_back(*again);
      KUBEDP_RETURN_IF_ERROR(TimedIn(t_, "ipt", {"iptables", "-t", "nat", "-F"}, "").status());
      auto restore = ProgramIptables(t_, cluster, measured_);
      if (!restore.ok()) return restore.status();
      bulk.baseline.push_back(*restore);
    }
    bulk.met = bulk.KubedpFigure() <= 1000 && bulk.Ratio() <= 0.33;
    return std::vector<Row>{memory, bulk};
  }

  LabAgent& agent() { return agent_; }

 private:
  Topologies& t_;
  Topologies& one_;
  const ServiceScaleOptions& options_;
  LabAgent agent_;
  MeasuredService measured_{.vip = Topologies::kVip, .backend = Topologies::kBareServer};
};

// p99 of the endpoint changes at the smaller level, and its growth at the larger.
std::vector<Row> ChangeRows(const std::map<std::string, std::vector<double>>& changes,
                            const std::string& small, const std::string& large) {
  Row change{.name = "endpoint change live (p99), " + small + " Services + policies",
             .unit = "ms",
             .higher_is_better = false,
             .kubedp = changes.at(small),
             .goal = "p99 <= 10 ms",
             .p99 = true};
  change.met = change.KubedpFigure() <= 10;
  if (large == small) return {change};
  Row growth{.name = "endpoint change live (p99), " + large + " vs " + small + " Services",
             .unit = "ms",
             .higher_is_better = false,
             .kubedp = changes.at(large),
             .baseline = changes.at(small),
             .baseline_name = small + " Services",
             .goal = "ratio <= 1.1",
             .p99 = true};
  growth.met = growth.Ratio() <= 1.1;
  return {change, growth};
}

}  // namespace

Result<std::vector<Row>> MeasureServiceScale(const ServiceScaleOptions& options) {
  auto topologies = Topologies::Build({.lab_tag = "scale", .variants = {"ipt", "nft"}});
  if (!topologies.ok()) return topologies.status();
  // A second lab holds just its one Service: the flatness baseline, measured
  // in the same rounds as the lab with thousands.
  auto single = Topologies::Build({.lab_tag = "one"});
  if (!single.ok()) return single.status();
  Topologies& t = **topologies;
  ScaleRun run(t, **single, options);
  auto probe = run.agent().Apply("probe.json", ProbeManifest(t.kubedp_server_ip, false));
  if (!probe.ok()) return probe.status();

  std::vector<Row> rows;
  std::map<std::string, std::vector<double>> changes;  // by level
  const std::string load_goal_level = options.short_mode ? "1k" : "10k";
  for (const Level& level : LevelsFor(options.short_mode)) {
    auto loaded = run.Load(level);
    if (!loaded.ok()) return loaded.status();
    auto connects = run.ConnectRows(level);
    if (!connects.ok()) return connects.status();
    rows.insert(rows.end(), connects->begin(), connects->end());
    auto millis = run.EndpointChanges(options.short_mode ? 6 : 40);
    if (!millis.ok()) return millis.status();
    changes[level.label] = *millis;
    if (level.label != load_goal_level) continue;
    auto load = run.LoadRows(level, loaded->first, loaded->second);
    if (!load.ok()) return load.status();
    rows.insert(rows.end(), load->begin(), load->end());
  }
  for (Row& row : ChangeRows(changes, load_goal_level, options.short_mode ? "1k" : "30k")) {
    rows.push_back(std::move(row));
  }
  if (!KernelHasIpvs()) {
    std::fprintf(
        stderr,
        "kube-proxy IPVS baseline not run: this kernel has no IP_VS (no /proc/net/ip_vs)\n");
  }
  return rows;
}

}  // namespace kubedp::bench
