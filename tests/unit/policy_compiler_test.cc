// The compiled policy tables, read the way the kernel reads them, must agree
// with the oracle on every connection of hundreds of random clusters.
#include "control/policy_compiler.h"

#include <gtest/gtest.h>

#include "common/ip.h"
#include "common/random_cluster.h"
#include "control/policy_oracle.h"
#include "k8s/decode.h"

namespace kubedp::control {
namespace {

TEST(RangeToPrefixes, CoversExactlyTheRange) {
  EXPECT_EQ(RangeToPrefixes(80, 80), (std::vector<Prefix16>{{80, 16}}));
  EXPECT_EQ(RangeToPrefixes(0, 65535), (std::vector<Prefix16>{{0, 0}}));
  EXPECT_EQ(RangeToPrefixes(1, 65535).size(), 16u);
  for (auto [first, last] : {std::pair{80, 8080}, std::pair{32768, 60999}, std::pair{1, 65535}}) {
    uint32_t covered = 0;
    for (const auto& p : RangeToPrefixes(first, last)) {
      uint32_t size = 1u << (16 - p.len);
      EXPECT_GE(p.value, first);
      EXPECT_LE(p.value + size - 1, static_cast<uint32_t>(last));
      covered += size;
    }
    EXPECT_EQ(covered, static_cast<uint32_t>(last - first + 1));
  }
}

TEST(SubtractPrefixes, CutsTheExceptOut) {
  auto pieces = SubtractPrefixes({0x0a000000, 8}, {{0x0a010000, 16}});
  EXPECT_EQ(pieces.size(), 8u);
  for (const auto& p : pieces) EXPECT_NE(p.network & 0xffff0000, 0x0a010000u);
  EXPECT_TRUE(SubtractPrefixes({0x0a010000, 16}, {{0x0a000000, 8}}).empty());
  EXPECT_EQ(SubtractPrefixes({0x0a000000, 8}, {{0x0b000000, 8}}).size(), 1u);
}

bool CompiledAllows(const PolicyTables& tables, const std::map<std::string, LocalEndpoint>& eps,
                    const std::string& from, const std::string& to, uint8_t protocol,
                    uint16_t port) {
  const LocalEndpoint& src = eps.at(from);
  const LocalEndpoint& dst = eps.at(to);
  return TablesAllow(tables, src.endpoint_id, KDP_POLICY_EGRESS, dst.ip, protocol, port) &&
         TablesAllow(tables, dst.endpoint_id, KDP_POLICY_INGRESS, src.ip, protocol, port);
}

TEST(PolicyCompiler, AgreesWithTheOracleOnRandomClusters) {
  constexpr int kClusters = 300;
  int denied = 0, allowed = 0;
  for (unsigned seed = 1; seed <= kClusters; ++seed) {
    testing::RandomCluster cluster = testing::ClusterGenerator(seed).Generate("10.244.1.");
    k8s::ClusterState state;
    for (const auto& doc : cluster.documents) {
      auto decoded = k8s::DecodeManifests(doc.dump(), "random");
      ASSERT_TRUE(decoded.ok()) << decoded.status().message() << "\n" << doc.dump();
      for (auto& object : decoded->objects) state.Add(std::move(object));
    }
    std::vector<LocalEndpoint> endpoints;
    std::map<std::string, LocalEndpoint> by_key;
    uint32_t id = 1;
    for (const auto& pod : cluster.pods) {
      LocalEndpoint ep{pod.ns + "/" + pod.name, id++, *ParseIpv4(pod.ip)};
      endpoints.push_back(ep);
      by_key[ep.pod] = ep;
    }
    PolicyTables tables = CompilePolicy(state, endpoints);
    ASSERT_TRUE(tables.errors.empty());
    for (const auto& from : cluster.pods) {
      for (const auto& to : cluster.pods) {
        if (&from == &to) continue;
        std::vector<std::pair<std::string, int>> probes{
            {"TCP", 70}, {"TCP", 9001}, {"UDP", 80}, {"SCTP", 80}};
        for (const auto& p : to.ports) probes.push_back({p.protocol, p.port});
        for (const auto& [protocol, port] : probes) {
          ConnectionQuery query{.source = {.pod = from.ns + "/" + from.name},
                                .destination = {.pod = to.ns + "/" + to.name},
                                .port = port,
                                .protocol = protocol};
          bool expected = EvaluatePolicy(state, query).allowed;
          uint8_t number = protocol == "TCP" ? 6 : protocol == "UDP" ? 17 : 132;
          bool compiled = CompiledAllows(tables, by_key, query.source.pod, query.destination.pod,
                                         number, static_cast<uint16_t>(port));
          ASSERT_EQ(compiled, expected)
              << "seed " << seed << ": " << query.source.pod << " -> " << query.destination.pod
              << " " << protocol << " " << port << "\n"
              << FormatVerdict(EvaluatePolicy(state, query));
          (expected ? allowed : denied)++;
        }
      }
    }
  }
  // The generator must exercise both outcomes, or the comparison proves little.
  EXPECT_GT(denied, 1000);
  EXPECT_GT(allowed, 1000);
}

// Rules on the same ports share one rule bit, so thousands of address rules
// fit in the 64 bits an endpoint has per direction.
TEST(PolicyCompiler, ThousandsOfAddressRulesOnOnePortFit) {
  std::string yaml = R"(
apiVersion: v1
kind: Pod
metadata: {name: server, namespace: bench, labels: {app: server}}
spec: {nodeName: node1, containers: [{name: s}]}
status: {phase: Running, podIP: 10.244.1.10}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: many, namespace: bench}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress:
    - {from: [{ipBlock: {cidr: 172.20.0.0/16, except: [172.20.7.0/24]}}], ports: [{port: 9090}]}
)";
  for (int i = 0; i < 3000; ++i) {
    yaml += "    - {from: [{ipBlock: {cidr: " + FormatIpv4(0xac150000u + i) +
            "/32}}], ports: [{port: 8080}]}\n";
  }
  auto decoded = k8s::DecodeManifests(yaml, "many.yaml");
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  k8s::ClusterState state;
  for (auto& object : decoded->objects) state.Add(std::move(object));
  PolicyTables tables = CompilePolicy(state, {{"bench/server", 1, *ParseIpv4("10.244.1.10")}});
  ASSERT_TRUE(tables.errors.empty()) << tables.errors.front();
  auto allows = [&](const char* ip, uint16_t port) {
    return TablesAllow(tables, 1, KDP_POLICY_INGRESS, *ParseIpv4(ip), 6, port);
  };
  EXPECT_TRUE(allows("172.21.0.0", 8080));
  EXPECT_TRUE(allows("172.21.11.183", 8080));  // the 3000th
  EXPECT_FALSE(allows("172.21.11.184", 8080));
  EXPECT_FALSE(allows("172.21.0.5", 9090));
  EXPECT_TRUE(allows("172.20.1.1", 9090));
  EXPECT_FALSE(allows("172.20.7.1", 9090));  // the except
  EXPECT_FALSE(allows("172.20.1.1", 8080));
}

}  // namespace
}  // namespace kubedp::control
