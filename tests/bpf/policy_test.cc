// NetworkPolicy in the kernel: the compiled maps written by the agent's own
// code, crafted packets in, and the verdicts the API demands out: port ranges
// that need many prefixes, named ports, CIDRs with except, protocol-only
// entries, replies of allowed flows, and no record left by a denied flow.
#include "bpf/pod_fixture.h"
#include "common/reasons.h"
#include "control/policy_compiler.h"
#include "datapath/conntrack_map.h"
#include "datapath/policy_maps.h"
#include "k8s/decode.h"

namespace kubedp {
namespace {

using namespace kubedp::testing;  // NOLINT: constants and builders of the fixture

// Pods a (10.244.7.10) and b (10.244.7.11, "web" on 8080) in namespace shop.
const char* kPods = R"(
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: shop, labels: {app: a}}
spec: {containers: [{name: c}]}
status: {podIP: 10.244.7.10}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: shop, labels: {app: b}}
spec: {containers: [{name: c, ports: [{name: web, containerPort: 8080}]}]}
status: {podIP: 10.244.7.11}
)";

class Policy : public PodProgramFixture {
 protected:
  void Apply(const std::string& policies) {
    auto decoded = k8s::DecodeManifests(std::string(kPods) + "---\n" + policies, "test");
    ASSERT_TRUE(decoded.ok()) << decoded.status().message();
    k8s::ClusterState state;
    for (auto& object : decoded->objects) state.Add(std::move(object));
    control::PolicyTables tables =
        control::CompilePolicy(state, {{"shop/a", 1, kPodA}, {"shop/b", 2, kPodB}});
    ASSERT_TRUE(tables.errors.empty());
    auto written =
        datapath::ReconcilePolicyMaps(program_->PolicyPeersFd(), program_->PolicyPortsFd(), tables);
    ASSERT_TRUE(written.ok()) << written.status().message();
    control::EndpointRecord a{.ip = kPodA, .endpoint_id = 1, .ifindex = kIfA};
    control::EndpointRecord b{
        .ip = kPodB, .endpoint_id = 2, .ifindex = kIfB, .pod_mac = kPodBMac, .host_mac = kHostBMac};
    control::EndpointTable endpoints = control::CompileEndpoints({a, b});
    for (auto& [ip, info] : endpoints) info.flags |= tables.endpoint_flags[info.endpoint_id];
    ASSERT_TRUE(datapath::EndpointMap(program_->EndpointsFd()).Reconcile(endpoints).ok());
  }

  // Sends one segment and returns the reason the program counted for it.
  uint32_t Verdict(uint32_t saddr, uint32_t daddr, uint8_t protocol, uint16_t dport,
                   uint8_t tcp_flags = kSyn, uint16_t sport = 40000) {
    std::map<uint32_t, uint64_t> before;
    for (uint32_t r : kReasons) before[r] = Packets(r);
    std::vector<uint8_t> out;
    Run(FlowPacket(saddr, daddr, sport, dport, protocol, tcp_flags), saddr == kPodA ? kIfA : kIfB,
        out);
    for (uint32_t r : kReasons) {
      if (Packets(r) > before[r]) return r;
    }
    return 999;
  }

  static constexpr uint32_t kReasons[] = {KDP_FORWARDED, KDP_TO_STACK, KDP_DROP_POLICY_EGRESS,
                                          KDP_DROP_POLICY_INGRESS};
};

constexpr uint8_t kTcp = IPPROTO_TCP, kUdp = IPPROTO_UDP, kSctp = IPPROTO_SCTP;
constexpr uint32_t kExternal = 0xc0000205;  // 192.0.2.5

TEST_F(Policy, NoPolicyLeavesEveryoneOpen) {
  Apply("");
  EXPECT_EQ(Verdict(kPodA, kPodB, kTcp, 1), KDP_FORWARDED);
  EXPECT_EQ(Verdict(kPodB, kPodA, kUdp, 9), KDP_FORWARDED);
}

TEST_F(Policy, PortRangeNeedingManyPrefixesIsExactAtBothEnds) {
  Apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: range, namespace: shop}
spec:
  podSelector: {matchLabels: {app: b}}
  ingress: [{ports: [{port: 32768, endPort: 60999}]}]
)");
  EXPECT_EQ(Verdict(kPodA, kPodB, kTcp, 32767), KDP_DROP_POLICY_INGRESS);
  EXPECT_EQ(Verdict(kPodA, kPodB, kTcp, 32768), KDP_FORWARDED);
  EXPECT_EQ(Verdict(kPodA, kPodB, kTcp, 45000), KDP_FORWARDED);
  EXPECT_EQ(Verdict(kPodA, kPodB, kTcp, 60999), KDP_FORWARDED);
  EXPECT_EQ(Verdict(kPodA, kPodB, kTcp, 61000), KDP_DROP_POLICY_INGRESS);
  EXPECT_EQ(Verdict(kPodA, kPodB, kUdp, 45000), KDP_DROP_POLICY_INGRESS) << "TCP is the default";
}

TEST_F(Policy, FullRangeAndEightyToEightyEighty) {
  Apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: ranges, namespace: shop}
spec:
  podSelector: {matchLabels: {app: b}}
  ingress:
    - ports: [{port: 1, endPort: 65535, protocol: UDP}, {port: 80, endPort: 8080}]
)");
  EXPECT_EQ(Verdict(kPodA, kPodB, kUdp, 1), KDP_FORWARDED);
  EXPECT_EQ(Verdict(kPodA, kPodB, kUdp, 65535), KDP_FORWARDED);
  EXPECT_EQ(Verdict(kPodA, kPodB, kTcp, 79), KDP_DROP_POLICY_INGRESS);
  EXPECT_EQ(Verdict(kPodA, kPodB, kTcp, 80), KDP_FORWARDED);
  EXPECT_EQ(Verdict(kPodA, kPodB, kTcp, 8080), KDP_FORWARDED);
  EXPECT_EQ(Verdict(kPodA, kPodB, kTcp, 8081), KDP_DROP_POLICY_INGRESS);
}

TEST_F(Policy, NamedPortAndWildcardPeer) {
  Apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: b}}
  ingress: [{from: [{podSelector: {}}], ports: [{port: web}]}]
)");
  EXPECT_EQ(Verdict(kPodA, kPodB, kTcp, 8080), KDP_FORWARDED);
  EXPECT_EQ(Verdict(kPodA, kPodB, kTcp, 80), KDP_DROP_POLICY_INGRESS);
}

TEST_F(Policy, CidrWithExceptOnEgress) {
  Apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: out, namespace: shop}
spec:
  podSelector: {matchLabels: {app: a}}
  policyTypes: [Egress]
  egress:
    - to: [{ipBlock: {cidr: 192.0.2.0/24, except: [192.0.2.128/25]}}]
      ports: [{port: 53, protocol: UDP}]
)");
  EXPECT_EQ(Verdict(kPodA, kExternal, kUdp, 53), KDP_TO_STACK);
  EXPECT_EQ(Verdict(kPodA, 0xc00002c8, kUdp, 53), KDP_DROP_POLICY_EGRESS) << "192.0.2.200: except";
  EXPECT_EQ(Verdict(kPodA, kExternal, kUdp, 54), KDP_DROP_POLICY_EGRESS);
  EXPECT_EQ(Verdict(kPodA, kPodB, kTcp, 8080), KDP_DROP_POLICY_EGRESS) << "b is not in the block";
}

TEST_F(Policy, ProtocolOnlyEntryAndSctpPorts) {
  Apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: sctp, namespace: shop}
spec:
  podSelector: {matchLabels: {app: b}}
  ingress: [{ports: [{protocol: SCTP, port: 7}]}, {ports: [{protocol: UDP}]}]
)");
  EXPECT_EQ(Verdict(kPodA, kPodB, kSctp, 7), KDP_FORWARDED);
  EXPECT_EQ(Verdict(kPodA, kPodB, kSctp, 8), KDP_DROP_POLICY_INGRESS);
  EXPECT_EQ(Verdict(kPodA, kPodB, kUdp, 9999), KDP_FORWARDED) << "protocol-only: every UDP port";
  EXPECT_EQ(Verdict(kPodA, kPodB, kTcp, 9999), KDP_DROP_POLICY_INGRESS);
}

TEST_F(Policy, SctpOnlyPolicyStillIsolatesTcpAndUdp) {
  Apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: sctp-only, namespace: shop}
spec:
  podSelector: {matchLabels: {app: b}}
  ingress: [{ports: [{protocol: SCTP}]}]
)");
  EXPECT_EQ(Verdict(kPodA, kPodB, kSctp, 9999), KDP_FORWARDED);
  EXPECT_EQ(Verdict(kPodA, kPodB, kTcp, 9999), KDP_DROP_POLICY_INGRESS);
  EXPECT_EQ(Verdict(kPodA, kPodB, kUdp, 9999), KDP_DROP_POLICY_INGRESS);
}

TEST_F(Policy, RepliesPassAndDeniedFlowsLeaveNoRecord) {
  // b may not start anything (egress deny-all), but answers a's connections.
  Apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: quiet-b, namespace: shop}
spec:
  podSelector: {matchLabels: {app: b}}
  policyTypes: [Egress]
)");
  EXPECT_EQ(Verdict(kPodB, kPodA, kTcp, 22, kSyn, 50000), KDP_DROP_POLICY_EGRESS);
  auto rows = datapath::CtMap(program_->CtFd()).List({});
  ASSERT_TRUE(rows.ok());
  EXPECT_TRUE(rows->empty()) << "a denied first packet records nothing";

  EXPECT_EQ(Verdict(kPodA, kPodB, kTcp, 8080, kSyn, 40000), KDP_FORWARDED);
  EXPECT_EQ(Verdict(kPodB, kPodA, kTcp, 40000, kSyn | kAck, 8080), KDP_FORWARDED)
      << "the reply of an allowed connection passes";
  EXPECT_EQ(Verdict(kPodB, kPodA, kTcp, 40001, kSyn, 8080), KDP_DROP_POLICY_EGRESS)
      << "but not a new flow from the same port";
}

}  // namespace
}  // namespace kubedp
