// Random clusters for differential tests: namespaces and pods with labels and
// named ports, and NetworkPolicies drawing on every field of the API. The same
// cluster is produced as manifests (for the lab) and decoded state (for the
// oracle and the compiler), from a seed.
#pragma once

#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

namespace kubedp::testing {

using Json = nlohmann::json;

struct RandomCluster {
  std::vector<Json> documents;  // Namespaces, Pods (with status.podIP), NetworkPolicies
  struct PodPort {
    int port;
    std::string protocol;
  };
  struct PodInfo {
    std::string ns, name, ip;
    std::vector<PodPort> ports;
  };
  std::vector<PodInfo> pods;
};

class ClusterGenerator {
 public:
  explicit ClusterGenerator(unsigned seed) : random_(seed) {}

  RandomCluster Generate(const std::string& pod_cidr_prefix /* e.g. "10.244.1." */) {
    RandomCluster cluster;
    std::vector<std::string> namespaces{"alpha", "beta", "gamma"};
    for (const auto& ns : namespaces) {
      cluster.documents.push_back(
          Json{{"apiVersion", "v1"},
               {"kind", "Namespace"},
               {"metadata", {{"name", ns}, {"labels", {{"team", Pick({"a", "b"})}}}}}});
    }
    int pod_count = Between(3, 5);
    for (int i = 0; i < pod_count; ++i) {
      RandomCluster::PodInfo pod{
          Pick(namespaces), "p" + std::to_string(i), pod_cidr_prefix + std::to_string(10 + i), {}};
      Json ports = Json::array();
      // Every pod serves "web" and "dns", on numbers that differ between pods.
      int web = Pick({80, 8080, 8443});
      ports.push_back(Json{{"name", "web"}, {"containerPort", web}});
      pod.ports.push_back({web, "TCP"});
      int dns = Pick({53, 5353});
      ports.push_back(Json{{"name", "dns"}, {"containerPort", dns}, {"protocol", "UDP"}});
      pod.ports.push_back({dns, "UDP"});
      cluster.documents.push_back(
          Json{{"apiVersion", "v1"},
               {"kind", "Pod"},
               {"metadata",
                {{"name", pod.name},
                 {"namespace", pod.ns},
                 {"labels",
                  {{"app", Pick({"web", "db", "cache"})}, {"tier", Pick({"front", "back"})}}}}},
               {"spec", {{"containers", Json::array({Json{{"name", "c"}, {"ports", ports}}})}}},
               {"status", {{"podIP", pod.ip}, {"phase", "Running"}}}});
      cluster.pods.push_back(pod);
    }
    int policy_count = Between(1, 3);
    for (int i = 0; i < policy_count; ++i) {
      cluster.documents.push_back(
          Policy("pol" + std::to_string(i), Pick(namespaces), pod_cidr_prefix));
    }
    return cluster;
  }

 private:
  int Between(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(random_); }
  bool Chance(int percent) { return Between(0, 99) < percent; }
  template <typename T>
  T Pick(std::initializer_list<T> items) {
    return *(items.begin() + Between(0, static_cast<int>(items.size()) - 1));
  }
  std::string Pick(const std::vector<std::string>& items) {
    return items[Between(0, static_cast<int>(items.size()) - 1)];
  }

  Json Selector() {
    if (Chance(25)) return Json::object();  // everything
    if (Chance(60)) return Json{{"matchLabels", {{"app", Pick({"web", "db", "cache"})}}}};
    std::string op = Pick({"In", "NotIn", "Exists", "DoesNotExist"});
    Json expr{{"key", Pick({"app", "tier"})}, {"operator", op}};
    if (op == "In" || op == "NotIn") expr["values"] = Json::array({Pick({"web", "db", "front"})});
    return Json{{"matchExpressions", Json::array({expr})}};
  }

  Json NamespaceSelector() {
    if (Chance(30)) return Json::object();
    if (Chance(50)) return Json{{"matchLabels", {{"team", Pick({"a", "b"})}}}};
    return Json{
        {"matchLabels", {{"kubernetes.io/metadata.name", Pick({"alpha", "beta", "gamma"})}}}};
  }

  Json Peer(const std::string& prefix) {
    int kind = Between(0, 3);
    if (kind == 0) return Json{{"podSelector", Selector()}};
    if (kind == 1) return Json{{"namespaceSelector", NamespaceSelector()}};
    if (kind == 2)
      return Json{{"podSelector", Selector()}, {"namespaceSelector", NamespaceSelector()}};
    Json block{{"cidr", prefix + "0/24"}};
    if (Chance(60)) block["except"] = Json::array({prefix + std::to_string(Pick({8, 12})) + "/30"});
    return Json{{"ipBlock", block}};
  }

  Json Port() {
    int kind = Between(0, 4);
    if (kind == 0)
      return Json{{"port", Pick({80, 53, 8080, 5353})}, {"protocol", Pick({"TCP", "UDP"})}};
    if (kind == 1) return Json{{"port", Pick({70, 1000})}, {"endPort", Pick({8080, 9000})}};
    if (kind == 2) return Json{{"port", Pick({"web", "dns"})}, {"protocol", Pick({"TCP", "UDP"})}};
    if (kind == 3) return Json{{"protocol", Pick({"TCP", "UDP", "SCTP"})}};
    return Json{{"port", 5353}, {"protocol", "UDP"}};
  }

  Json Rules(const std::string& prefix, const char* peer_field) {
    Json rules = Json::array();
    int count = Between(0, 2);
    for (int i = 0; i < count; ++i) {
      Json rule = Json::object();
      if (Chance(80)) {
        Json peers = Json::array();
        for (int p = Between(1, 2); p > 0; --p) peers.push_back(Peer(prefix));
        rule[peer_field] = peers;
      }
      if (Chance(70)) {
        Json ports = Json::array();
        for (int p = Between(1, 2); p > 0; --p) ports.push_back(Port());
        rule["ports"] = ports;
      }
      rules.push_back(rule);
    }
    return rules;
  }

  Json Policy(const std::string& name, const std::string& ns, const std::string& prefix) {
    Json spec{{"podSelector", Selector()}};
    bool ingress = Chance(80), egress = Chance(50);
    if (!ingress && !egress) ingress = true;
    Json types = Json::array();
    if (ingress) {
      spec["ingress"] = Rules(prefix, "from");
      types.push_back("Ingress");
    }
    if (egress) {
      spec["egress"] = Rules(prefix, "to");
      types.push_back("Egress");
    }
    if (Chance(70)) spec["policyTypes"] = types;
    return Json{{"apiVersion", "networking.k8s.io/v1"},
                {"kind", "NetworkPolicy"},
                {"metadata", {{"name", name}, {"namespace", ns}}},
                {"spec", spec}};
  }

  std::mt19937 random_;
};

}  // namespace kubedp::testing
