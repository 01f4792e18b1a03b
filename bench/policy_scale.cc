#include "bench/policy_scale.h"

#include <nlohmann/json.hpp>

#include "bench/lab_agent.h"
#include "bench/load.h"
#include "bench/topology.h"
#include "common/ip.h"

namespace kubedp::bench {
namespace {

using Json = nlohmann::json;

Json List(Json items) {
  return Json{{"apiVersion", "v1"}, {"kind", "List"}, {"items", std::move(items)}};
}

// One policy on the server pod with `rules` ingress rules, each admitting one
// address (172.20.0.0/16 onwards) on the echo port.
std::string ManyRulesPolicy(int rules) {
  Json ingress = Json::array();
  for (int i = 0; i < rules; ++i) {
    ingress.push_back(
        {{"from",
          {{{"ipBlock", {{"cidr", FormatIpv4(0xac140000u + static_cast<uint32_t>(i)) + "/32"}}}}}},
         {"ports", {{{"port", 8080}}}}});
  }
  return List(Json::array({{{"apiVersion", "networking.k8s.io/v1"},
                            {"kind", "NetworkPolicy"},
                            {"metadata", {{"name", "many-rules"}, {"namespace", "bench"}}},
                            {"spec",
                             {{"podSelector", {{"matchLabels", {{"app", "server"}}}}},
                              {"ingress", ingress}}}}}))
      .dump();
}

// A namespace of `pods` running pods on another node, and a policy letting
// all of them reach the server.
std::string CrowdNamespace(int pods) {
  Json items = Json::array();
  items.push_back({{"apiVersion", "v1"},
                   {"kind", "Namespace"},
                   {"metadata", {{"name", "crowd"}, {"labels", {{"team", "crowd"}}}}}});
  for (int i = 0; i < pods; ++i) {
    std::string ip = FormatIpv4(0x0afa0000u + static_cast<uint32_t>(i));  // 10.250.0.0/16
    items.push_back({{"apiVersion", "v1"},
                     {"kind", "Pod"},
                     {"metadata",
                      {{"name", "p" + std::to_string(i)},
                       {"namespace", "crowd"},
                       {"labels", {{"app", "crowd-" + std::to_string(i % 100)}}}}},
                     {"spec", {{"nodeName", "node2"}, {"containers", {{{"name", "c"}}}}}},
                     {"status",
                      {{"phase", "Running"},
                       {"podIP", ip},
                       {"podIPs", {{{"ip", ip}}}},
                       {"conditions", {{{"type", "Ready"}, {"status", "True"}}}}}}});
  }
  items.push_back(
      {{"apiVersion", "networking.k8s.io/v1"},
       {"kind", "NetworkPolicy"},
       {"metadata", {{"name", "from-crowd"}, {"namespace", "bench"}}},
       {"spec",
        {{"podSelector", {{"matchLabels", {{"app", "server"}}}}},
         {"ingress",
          {{{"from", {{{"namespaceSelector", {{"matchLabels", {{"team", "crowd"}}}}}}}}}}}}}});
  return List(items).dump();
}

Result<uint64_t> PeerEntries(LabAgent& agent) {
  auto status = agent.AgentStatus();
  if (!status.ok()) return status.status();
  return (*status)["policy"].value("peer_entries", uint64_t{0});
}

}  // namespace

Result<std::vector<Row>> MeasurePolicyScale(Topologies& t, const PolicyScaleOptions& options) {
  LabAgent agent(t.lab(), t.NodeManifestDir(), t.AgentPid());
  const int rules = options.short_mode ? 1000 : 10000;
  const int pods = options.short_mode ? 2000 : 20000;
  std::vector<Row> rows;

  Row many{.name = "ClusterIP connects, " + std::to_string(rules) + " ingress rules on the server",
           .unit = "conn/s",
           .baseline_name = "1 rule",
           .goal = "ratio >= 0.97"};
  std::string policy = ManyRulesPolicy(rules);
  auto without = PeerEntries(agent);
  if (!without.ok()) return without.status();
  for (int round = 0; round < options.rounds; ++round) {
    auto applied = agent.Apply("many-rules.json", policy);
    if (!applied.ok()) return applied.status();
    auto with = PeerEntries(agent);
    if (!with.ok()) return with.status();
    if (*with < *without + static_cast<uint64_t>(rules)) {
      return Status::Error(EIO, "the agent did not program the " + std::to_string(rules) +
                                    "-rule policy (peer entries " + std::to_string(*without) +
                                    " -> " + std::to_string(*with) + ")");
    }
    many.kubedp.push_back(
        ConnectRate(t.kubedp_client_netns, Topologies::kVip, 80, options.seconds));
    KUBEDP_RETURN_IF_ERROR(agent.Remove("many-rules.json"));
    many.baseline.push_back(
        ConnectRate(t.kubedp_client_netns, Topologies::kVip, 80, options.seconds));
  }
  many.met = many.Ratio() >= 0.97;
  rows.push_back(many);

  auto before = PeerEntries(agent);
  if (!before.ok()) return before.status();
  auto applied = agent.Apply("crowd.json", CrowdNamespace(pods));
  if (!applied.ok()) return applied.status();
  auto after = PeerEntries(agent);
  if (!after.ok()) return after.status();
  KUBEDP_RETURN_IF_ERROR(agent.Remove("crowd.json"));
  Row crowd{.name = "policy map entries for allow-from-namespace over " +
                    std::to_string(pods / 1000) + "k pods",
            .unit = "entries",
            .higher_is_better = false,
            .kubedp = {static_cast<double>(*after - *before)},
            .baseline = {static_cast<double>(pods)},
            .baseline_name = "pods in the namespace",
            .goal = "<= 16 entries (a few)"};
  crowd.met = crowd.KubedpFigure() <= 16;
  rows.push_back(crowd);
  return rows;
}

}  // namespace kubedp::bench
