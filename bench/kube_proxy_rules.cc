#include "bench/kube_proxy_rules.h"

#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "common/ip.h"

namespace kubedp::bench {
namespace {

using Json = nlohmann::json;

constexpr uint32_t kServiceBase = 0x0a640000;  // 10.100.0.0
constexpr uint32_t kBackendBase = 0xac100000;  // 172.16.0.0
constexpr const char* kPodCidr = "10.244.0.0/16";

std::string ServiceIp(int i) {
  return FormatIpv4(kServiceBase + static_cast<uint32_t>(i));
}
std::string BackendIp(const SyntheticCluster& cluster, int service, int endpoint) {
  return FormatIpv4(kBackendBase +
                    static_cast<uint32_t>(service * cluster.endpoints_per_service + endpoint));
}

// kube-proxy names chains by a hash of the Service port (or endpoint); any
// stable 16 characters do here.
std::string ChainHash(const std::string& what) {
  char text[17];
  std::snprintf(text, sizeof(text), "%016zX", std::hash<std::string>{}(what));
  return text;
}

// One Service as the rule writers see it.
struct RuleService {
  std::string name, vip;
  uint16_t port;
  std::vector<std::string> backends;
  uint16_t backend_port;
};

// The synthetic Services with the measured one in the middle.
std::vector<RuleService> RuleServices(const SyntheticCluster& cluster,
                                      const MeasuredService& measured) {
  std::vector<RuleService> services;
  for (int i = 0; i < cluster.services; ++i) {
    if (i == cluster.services / 2) {
      services.push_back(
          {"bench/server", measured.vip, measured.port, {measured.backend}, measured.backend_port});
    }
    RuleService service{"scale/s" + std::to_string(i), ServiceIp(i), 80, {}, 8080};
    for (int e = 0; e < cluster.endpoints_per_service; ++e) {
      service.backends.push_back(BackendIp(cluster, i, e));
    }
    services.push_back(std::move(service));
  }
  if (cluster.services == 0) {
    services.push_back(
        {"bench/server", measured.vip, measured.port, {measured.backend}, measured.backend_port});
  }
  return services;
}

}  // namespace

std::string KubedpManifest(const SyntheticCluster& cluster) {
  Json items = Json::array();
  items.push_back({{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "scale"}}}});
  for (int i = 0; i < cluster.services; ++i) {
    std::string name = "s" + std::to_string(i);
    items.push_back(
        {{"apiVersion", "v1"},
         {"kind", "Service"},
         {"metadata", {{"name", name}, {"namespace", "scale"}}},
         {"spec",
          {{"clusterIP", ServiceIp(i)},
           {"ports",
            {{{"name", "http"}, {"port", 80}, {"protocol", "TCP"}, {"targetPort", 8080}}}}}}});
    Json endpoints = Json::array();
    for (int e = 0; e < cluster.endpoints_per_service; ++e) {
      endpoints.push_back(
          {{"addresses", {BackendIp(cluster, i, e)}}, {"conditions", {{"ready", true}}}});
    }
    items.push_back({{"apiVersion", "discovery.k8s.io/v1"},
                     {"kind", "EndpointSlice"},
                     {"metadata",
                      {{"name", name + "-1"},
                       {"namespace", "scale"},
                       {"labels", {{"kubernetes.io/service-name", name}}}}},
                     {"addressType", "IPv4"},
                     {"ports", {{{"name", "http"}, {"port", 8080}, {"protocol", "TCP"}}}},
                     {"endpoints", endpoints}});
  }
  for (int i = 0; i < cluster.policies; ++i) {
    std::string app = "scale-" + std::to_string(i);
    items.push_back(
        {{"apiVersion", "networking.k8s.io/v1"},
         {"kind", "NetworkPolicy"},
         {"metadata", {{"name", "p" + std::to_string(i)}, {"namespace", "scale"}}},
         {"spec",
          {{"podSelector", {{"matchLabels", {{"app", app}}}}},
           {"ingress",
            {{{"from", {{{"podSelector", {{"matchLabels", {{"role", app + "-client"}}}}}}}},
              {"ports", {{{"port", 8080}}}}}}}}}});
  }
  return Json{{"apiVersion", "v1"}, {"kind", "List"}, {"items", items}}.dump();
}

std::string IptablesRestoreInput(const SyntheticCluster& cluster, const MeasuredService& measured) {
  std::ostringstream chains, rules;
  chains << "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            ":POSTROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n:KUBE-MARK-MASQ - [0:0]\n"
            ":KUBE-POSTROUTING - [0:0]\n";
  rules << "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n"
           "-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n"
           "-A POSTROUTING -j KUBE-POSTROUTING\n"
           "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000\n"
           "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN\n"
           "-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0\n"
           "-A KUBE-POSTROUTING -j MASQUERADE --random-fully\n";
  for (const RuleService& service : RuleServices(cluster, measured)) {
    std::string port = std::to_string(service.port);
    std::string svc = "KUBE-SVC-" + ChainHash(service.name);
    chains << ":" << svc << " - [0:0]\n";
    rules << "-A KUBE-SERVICES -d " << service.vip << "/32 -p tcp -m comment --comment \""
          << service.name << ":http cluster IP\" -m tcp --dport " << port << " -j " << svc << "\n";
    rules << "-A " << svc << " ! -s " << kPodCidr << " -d " << service.vip
          << "/32 -p tcp -m tcp --dport " << port << " -j KUBE-MARK-MASQ\n";
    size_t count = service.backends.size();
    for (size_t e = 0; e < count; ++e) {
      const std::string& backend = service.backends[e];
      std::string sep = "KUBE-SEP-" + ChainHash(service.name + "/" + backend);
      chains << ":" << sep << " - [0:0]\n";
      rules << "-A " << svc;
      if (e + 1 < count) {
        char probability[32];
        std::snprintf(probability, sizeof(probability), "%.11f",
                      1.0 / static_cast<double>(count - e));
        rules << " -m statistic --mode random --probability " << probability;
      }
      rules << " -j " << sep << "\n";
      rules << "-A " << sep << " -s " << backend << "/32 -j KUBE-MARK-MASQ\n";
      rules << "-A " << sep << " -p tcp -m tcp -j DNAT --to-destination " << backend << ":"
            << service.backend_port << "\n";
    }
  }
  return chains.str() + rules.str() + "COMMIT\n";
}

std::string NftablesInput(const SyntheticCluster& cluster, const MeasuredService& measured) {
  std::ostringstream out, elements;
  // Adding then deleting makes the file replace an earlier table, or none.
  out << "add table ip kube-proxy\ndelete table ip kube-proxy\ntable ip kube-proxy {\n"
      << "  chain mark-for-masquerade { meta mark set meta mark | 0x4000; }\n";
  auto service_chain = [&](const RuleService& service, const std::string& chain) {
    std::ostringstream pick;
    for (size_t e = 0; e < service.backends.size(); ++e) {
      std::string endpoint = "endpoint-" + ChainHash(chain + "/" + service.backends[e]);
      out << "  chain " << endpoint << " { ip saddr " << service.backends[e]
          << " jump mark-for-masquerade; meta l4proto tcp dnat to " << service.backends[e] << ":"
          << service.backend_port << "; }\n";
      pick << (e ? ", " : "") << e << " : goto " << endpoint;
    }
    out << "  chain " << chain << " { ip daddr " << service.vip << " tcp dport " << service.port
        << " ip saddr != " << kPodCidr << " jump mark-for-masquerade; numgen random mod "
        << service.backends.size() << " vmap { " << pick.str() << " }; }\n";
  };
  // Only the measured Service gets chains of its own; the synthetic ones map
  // to one shared chain. A packet's path is the same (one verdict-map lookup
  // among all Services, then its Service's chains), but loading 10k Service
  // chains, each with its anonymous map, takes the kernel minutes (naming
  // anonymous sets walks all of them: quadratic).
  const std::string shared = "service-synthetic";
  std::vector<RuleService> services = RuleServices(cluster, measured);
  for (const RuleService& service : services) {
    bool own = service.vip == measured.vip;
    if (own) service_chain(service, "service-" + ChainHash(service.name));
    if (!own && elements.tellp() == 0) service_chain(service, shared);
    elements << (elements.tellp() > 0 ? ",\n    " : "    ") << service.vip << " . tcp . "
             << service.port << " : goto " << (own ? "service-" + ChainHash(service.name) : shared);
  }
  out << "  map service-ips {\n    type ipv4_addr . inet_proto . inet_service : verdict\n"
      << "    elements = {\n"
      << elements.str() << "\n    }\n  }\n"
      << "  chain services { ip daddr . meta l4proto . th dport vmap @service-ips; }\n"
      << "  chain nat-prerouting { type nat hook prerouting priority dstnat; policy accept; "
         "jump services; }\n"
      << "  chain nat-output { type nat hook output priority -100; policy accept; "
         "jump services; }\n"
      << "}\n";
  return out.str();
}

}  // namespace kubedp::bench
