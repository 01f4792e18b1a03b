// The node device's programs in the kernel: masquerade of pod traffic with
// ports from the SNAT range only, replies translated back and delivered,
// exhaustion counted, the node's own flows keeping their ports and winning
// over a NodePort on the same port, NodePort translation to a local backend
// with the client's address kept, and externalTrafficPolicy Local.
#include <set>

#include "bpf/pod_fixture.h"
#include "datapath/nat_maps.h"
#include "datapath/netdev_program.h"
#include "datapath/service_maps.h"

namespace kubedp {
namespace {

using namespace kubedp::testing;  // NOLINT: constants and builders of the fixture

constexpr uint32_t kNodeIp = 0xc000020b;    // 192.0.2.11
constexpr uint32_t kExternal = 0xcb007105;  // 203.0.113.5
constexpr uint32_t kClient = 0xc0000264;    // 192.0.2.100
constexpr uint16_t kNodePort = 30080;
constexpr int kUplink = 1;  // in BPF_PROG_TEST_RUN a redirect is only a verdict

class NodeDevice : public PodProgramFixture {
 protected:
  void SetUp() override {
    PodProgramFixture::SetUp();
    if (HasFatalFailure()) return;
    auto netdev = datapath::NetdevProgram::Load(datapath::NodePinDir(node_), NodeConfig());
    ASSERT_TRUE(netdev.ok()) << netdev.status().message();
    netdev_ = std::move(netdev).value();
    ASSERT_TRUE(datapath::ReconcileNoMasqMap(program_->NoMasqFd(), {}).ok());
  }
  void TearDown() override {
    netdev_.reset();
    PodProgramFixture::TearDown();
  }

  kdp_node_config NodeConfig() const override {
    kdp_node_config config = PodProgramFixture::NodeConfig();
    config.node_ifindex = kUplink;
    config.node_ip = htonl(kNodeIp);
    config.snat_port_min = snat_min_;
    config.snat_port_max = snat_max_;
    config.flags = KDP_NODE_F_MASQUERADE;
    return config;
  }

  static std::vector<uint8_t> Frame(uint32_t saddr, uint32_t daddr, uint16_t sport, uint16_t dport,
                                    uint8_t flags, uint8_t protocol = IPPROTO_TCP) {
    return FlowPacket(saddr, daddr, sport, dport, protocol, flags);
  }

  // A pod's packet as it leaves the node: through the pod program (conntrack,
  // redirected to the node device), then out of the node device's egress.
  int PodOut(uint32_t pod, uint16_t sport, uint32_t daddr, uint16_t dport, uint8_t flags,
             std::vector<uint8_t>& out) {
    std::vector<uint8_t> routed;
    int ifindex = pod == kPodA ? kIfA : kIfB;
    EXPECT_EQ(Run(Frame(pod, daddr, sport, dport, flags), ifindex, routed), kActRedirect);
    EXPECT_EQ(IpOf(routed).ttl, 63);
    return RunProgram(netdev_->EgressFd(), routed, ifindex, out);
  }

  int In(const std::vector<uint8_t>& frame, std::vector<uint8_t>& out) {
    return RunProgram(netdev_->IngressFd(), frame, 0, out);
  }

  void ProgramNodePort(bool external_local) {
    control::Frontend frontend{.kind = control::FrontendKind::kNodePort,
                               .port = kNodePort,
                               .protocol = IPPROTO_TCP,
                               .service = "shop/web",
                               .external_local = external_local};
    frontend.backends.push_back({.ip = kPodB,
                                 .port = 8080,
                                 .ready = true,
                                 .serving = true,
                                 .node_name = external_local ? "node2" : "node1"});
    control::ServiceTable table{.frontends = {frontend}};
    ASSERT_TRUE(datapath::ReconcileServiceMaps(
                    {program_->ServicesFd(), program_->BackendsFd(), program_->MaglevFd()}, table,
                    "node1", kNodeIp)
                    .ok());
  }

  static uint16_t SourcePort(const std::vector<uint8_t>& frame) {
    return ntohs(*reinterpret_cast<const uint16_t*>(frame.data() + 34));
  }
  static uint16_t DestinationPort(const std::vector<uint8_t>& frame) {
    return ntohs(*reinterpret_cast<const uint16_t*>(frame.data() + 36));
  }

  // An ICMP error (destination unreachable, port unreachable) from `from` to
  // `to` quoting the UDP datagram quoted_src:sport -> quoted_dst:dport.
  static std::vector<uint8_t> IcmpError(uint32_t from, uint32_t to, uint32_t quoted_src,
                                        uint16_t sport, uint32_t quoted_dst, uint16_t dport) {
    std::vector<uint8_t> quoted = Frame(quoted_src, quoted_dst, sport, dport, 0, IPPROTO_UDP);
    quoted.resize(sizeof(ethhdr) + sizeof(iphdr) + 8);  // the header and 8 bytes, as routers quote
    std::vector<uint8_t> frame = Frame(from, to, 0, 0, 0, IPPROTO_ICMP);
    frame.resize(sizeof(ethhdr) + sizeof(iphdr));
    uint8_t icmp[8] = {3, 3, 0, 0, 0, 0, 0, 0};
    frame.insert(frame.end(), icmp, icmp + 8);
    frame.insert(frame.end(), quoted.begin() + sizeof(ethhdr), quoted.end());
    auto* ip = reinterpret_cast<iphdr*>(frame.data() + sizeof(ethhdr));
    ip->tot_len = htons(static_cast<uint16_t>(frame.size() - sizeof(ethhdr)));
    ip->check = 0;
    ip->check = Ipv4Checksum(*ip);
    uint16_t sum = IcmpChecksum(frame);
    std::memcpy(frame.data() + 36, &sum, 2);
    return frame;
  }

  // The ICMP checksum over the message (0 when the stored one is valid).
  static uint16_t IcmpChecksum(const std::vector<uint8_t>& frame) {
    uint32_t sum = 0;
    for (size_t i = 34; i + 1 < frame.size(); i += 2) sum += (frame[i] << 8) | frame[i + 1];
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return htons(static_cast<uint16_t>(~sum));
  }

  static const iphdr& QuotedIp(const std::vector<uint8_t>& frame) {
    return *reinterpret_cast<const iphdr*>(frame.data() + 42);
  }

  uint16_t snat_min_ = 32768;
  uint16_t snat_max_ = 65535;
  std::unique_ptr<datapath::NetdevProgram> netdev_;
};

TEST_F(NodeDevice, MasqueradesPodTrafficAndTranslatesRepliesBack) {
  std::vector<uint8_t> out;
  ASSERT_EQ(PodOut(kPodA, 40000, kExternal, 80, kSyn, out), kActOk);
  EXPECT_EQ(ntohl(IpOf(out).saddr), kNodeIp);
  uint16_t nat_port = SourcePort(out);
  EXPECT_GE(nat_port, snat_min_);
  EXPECT_EQ(Ipv4Checksum(IpOf(out)), 0);
  EXPECT_EQ(L4Checksum(out), 0);
  EXPECT_EQ(Packets(KDP_MASQUERADED), 1u);
  EXPECT_EQ(Packets(KDP_TO_UPLINK), 1u);

  // The same flow keeps its port.
  std::vector<uint8_t> again;
  ASSERT_EQ(PodOut(kPodA, 40000, kExternal, 80, kAck, again), kActOk);
  EXPECT_EQ(SourcePort(again), nat_port);

  std::vector<uint8_t> reply;
  ASSERT_EQ(In(Frame(kExternal, kNodeIp, 80, nat_port, kSyn | kAck), reply), kActRedirect);
  EXPECT_EQ(ntohl(IpOf(reply).daddr), kPodA);
  EXPECT_EQ(DestinationPort(reply), 40000);
  EXPECT_EQ(Ipv4Checksum(IpOf(reply)), 0);
  EXPECT_EQ(L4Checksum(reply), 0);
  EXPECT_EQ(Packets(KDP_FORWARDED, KDP_DIR_TO_POD), 1u);

  auto rows = datapath::NatMap(program_->NatFd()).List();
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].kind, "masquerade");
  EXPECT_EQ((*rows)[0].original, "10.244.7.10:40000");
}

TEST_F(NodeDevice, LeavesNonMasqueradeDestinationsAlone) {
  ASSERT_TRUE(
      datapath::ReconcileNoMasqMap(program_->NoMasqFd(), {*Ipv4Cidr::Parse("203.0.113.0/24")})
          .ok());
  std::vector<uint8_t> out;
  ASSERT_EQ(PodOut(kPodA, 40000, kExternal, 80, kSyn, out), kActOk);
  EXPECT_EQ(ntohl(IpOf(out).saddr), kPodA);
  EXPECT_EQ(SourcePort(out), 40000);
  EXPECT_EQ(Packets(KDP_MASQUERADED), 0u);

  // Its reply comes to the pod's own address and is delivered as a reply.
  std::vector<uint8_t> reply;
  EXPECT_EQ(In(Frame(kExternal, kPodA, 80, 40000, kSyn | kAck), reply), kActRedirect);
}

TEST_F(NodeDevice, HandsOutDistinctPortsFromTheSnatRangeOnly) {
  std::set<uint16_t> ports;
  for (uint16_t sport = 30000; sport < 31000; ++sport) {  // pods' ports in the NodePort range
    std::vector<uint8_t> out;
    ASSERT_EQ(PodOut(sport % 2 ? kPodA : kPodB, sport, kExternal, 80, kSyn, out), kActOk);
    uint16_t port = SourcePort(out);
    EXPECT_GE(port, snat_min_) << "source port " << sport;
    ports.insert(port);
  }
  EXPECT_EQ(ports.size(), 1000u);
}

TEST_F(NodeDevice, NodeFlowKeepsItsPortAndItsRepliesBeatTheNodePort) {
  ProgramNodePort(/*external_local=*/false);
  // The node's own connection from a port that equals the NodePort.
  std::vector<uint8_t> out;
  ASSERT_EQ(RunProgram(netdev_->EgressFd(), Frame(kNodeIp, kClient, kNodePort, 80, kSyn), 0, out),
            kActOk);
  EXPECT_EQ(SourcePort(out), kNodePort);

  std::vector<uint8_t> reply;
  ASSERT_EQ(In(Frame(kClient, kNodeIp, 80, kNodePort, kSyn | kAck), reply), kActOk);
  EXPECT_EQ(ntohl(IpOf(reply).daddr), kNodeIp);
  EXPECT_EQ(DestinationPort(reply), kNodePort);
  EXPECT_EQ(Packets(KDP_FROM_UPLINK, KDP_DIR_TO_POD), 1u);

  // Another client's new connection to the same port is NodePort traffic.
  std::vector<uint8_t> service;
  ASSERT_EQ(In(Frame(kClient, kNodeIp, 81, kNodePort, kSyn), service), kActRedirect);
  EXPECT_EQ(ntohl(IpOf(service).daddr), kPodB);
}

TEST_F(NodeDevice, NodePortReachesALocalBackendWithTheClientAddress) {
  ProgramNodePort(/*external_local=*/false);
  std::vector<uint8_t> in;
  ASSERT_EQ(In(Frame(kClient, kNodeIp, 5555, kNodePort, kSyn), in), kActRedirect);
  EXPECT_EQ(ntohl(IpOf(in).saddr), kClient);
  EXPECT_EQ(ntohl(IpOf(in).daddr), kPodB);
  EXPECT_EQ(DestinationPort(in), 8080);
  EXPECT_EQ(L4Checksum(in), 0);

  // The backend's reply leaves from the node's address and the NodePort,
  // straight out of the node device.
  std::vector<uint8_t> reply;
  ASSERT_EQ(Run(Frame(kPodB, kClient, 8080, 5555, kSyn | kAck), kIfB, reply), kActRedirect);
  EXPECT_EQ(ntohl(IpOf(reply).saddr), kNodeIp);
  EXPECT_EQ(SourcePort(reply), kNodePort);
  EXPECT_EQ(L4Checksum(reply), 0);
}

TEST_F(NodeDevice, ExternalTrafficPolicyLocalWithoutLocalBackendRejects) {
  ProgramNodePort(/*external_local=*/true);  // the only backend is on node2
  std::vector<uint8_t> out;
  ASSERT_EQ(In(Frame(kClient, kNodeIp, 5555, kNodePort, kSyn), out), kActRedirect);
  EXPECT_EQ(out[47] & (kRst | kAck), kRst | kAck);  // the SYN came back as a reset
  EXPECT_EQ(ntohl(IpOf(out).saddr), kNodeIp);
  EXPECT_EQ(Packets(KDP_DROP_NO_BACKEND, KDP_DIR_TO_POD), 1u);

  // Pods still reach it through the Cluster policy.
  std::vector<uint8_t> from_pod;
  ASSERT_EQ(Run(Frame(kPodA, kNodeIp, 40000, kNodePort, kSyn), kIfA, from_pod), kActRedirect);
  EXPECT_EQ(ntohl(IpOf(from_pod).daddr), kPodB);
}

TEST_F(NodeDevice, MasqueradesIcmpEchoByIdentifier) {
  PacketSpec ping;
  ping.saddr = kPodA;
  ping.daddr = kExternal;
  ping.protocol = IPPROTO_ICMP;
  ping.icmp_id = 7;
  std::vector<uint8_t> routed, out;
  ASSERT_EQ(Run(BuildPacket(ping), kIfA, routed), kActRedirect);
  ASSERT_EQ(RunProgram(netdev_->EgressFd(), routed, kIfA, out), kActOk);
  EXPECT_EQ(ntohl(IpOf(out).saddr), kNodeIp);
  uint16_t id = ntohs(*reinterpret_cast<const uint16_t*>(out.data() + 34 + 4));
  EXPECT_GE(id, snat_min_);

  PacketSpec pong;
  pong.saddr = kExternal;
  pong.daddr = kNodeIp;
  pong.protocol = IPPROTO_ICMP;
  pong.icmp_type = 0;
  pong.icmp_id = id;
  std::vector<uint8_t> back;
  ASSERT_EQ(In(BuildPacket(pong), back), kActRedirect);
  EXPECT_EQ(ntohl(IpOf(back).daddr), kPodA);
  EXPECT_EQ(ntohs(*reinterpret_cast<const uint16_t*>(back.data() + 34 + 4)), 7);
}

TEST_F(NodeDevice, IcmpErrorsAboutAMasqueradedFlowReachTheirPod) {
  std::vector<uint8_t> routed, out;
  ASSERT_EQ(Run(Frame(kPodA, kExternal, 40000, 53, 0, IPPROTO_UDP), kIfA, routed), kActRedirect);
  ASSERT_EQ(RunProgram(netdev_->EgressFd(), routed, kIfA, out), kActOk);
  uint16_t nat_port = SourcePort(out);

  std::vector<uint8_t> error;
  ASSERT_EQ(In(IcmpError(kExternal, kNodeIp, kNodeIp, nat_port, kExternal, 53), error),
            kActRedirect);
  EXPECT_EQ(ntohl(IpOf(error).daddr), kPodA);
  EXPECT_EQ(Ipv4Checksum(IpOf(error)), 0);
  EXPECT_EQ(ntohl(QuotedIp(error).saddr), kPodA);
  EXPECT_EQ(Ipv4Checksum(QuotedIp(error)), 0);
  EXPECT_EQ(ntohs(*reinterpret_cast<const uint16_t*>(error.data() + 62)), 40000);
  EXPECT_EQ(IcmpChecksum(error), 0);

  // An error about no flow of ours goes to the node.
  std::vector<uint8_t> stray;
  EXPECT_EQ(In(IcmpError(kExternal, kNodeIp, kNodeIp, 1234, kExternal, 53), stray), kActOk);
}

TEST_F(NodeDevice, IcmpErrorsAboutATrackedFlowPassIngressPolicy) {
  // Pod A: isolated for ingress with no rule (deny all), reached without masquerade.
  auto endpoints = control::CompileEndpoints({{.ip = kPodA, .endpoint_id = 1, .ifindex = kIfA},
                                              {.ip = kPodB,
                                               .endpoint_id = 2,
                                               .ifindex = kIfB,
                                               .pod_mac = kPodBMac,
                                               .host_mac = kHostBMac}});
  endpoints[htonl(kPodA)].flags |= KDP_ENDPOINT_F_INGRESS_ISOLATED;  // keyed in network order
  ASSERT_TRUE(datapath::EndpointMap(program_->EndpointsFd()).Reconcile(endpoints).ok());
  ASSERT_TRUE(
      datapath::ReconcileNoMasqMap(program_->NoMasqFd(), {*Ipv4Cidr::Parse("203.0.113.0/24")})
          .ok());
  std::vector<uint8_t> routed, out;
  ASSERT_EQ(Run(Frame(kPodA, kExternal, 40000, 53, 0, IPPROTO_UDP), kIfA, routed), kActRedirect);

  EXPECT_EQ(In(IcmpError(kExternal, kPodA, kPodA, 40000, kExternal, 53), out), kActRedirect);
  EXPECT_EQ(In(IcmpError(kExternal, kPodA, kPodA, 40001, kExternal, 53), out), kActShot)
      << "an error about no flow meets the policy";
  EXPECT_EQ(In(Frame(kExternal, kPodA, 53, 9999, 0, IPPROTO_UDP), out), kActShot);
}

TEST_F(NodeDevice, StaysWithinVerifierBudget) {
  constexpr uint32_t kBudget = 40000;
  EXPECT_GT(netdev_->IngressFacts().verified_instructions, 0u);
  EXPECT_LE(netdev_->IngressFacts().verified_instructions, kBudget);
  EXPECT_LE(netdev_->EgressFacts().verified_instructions, kBudget);
  RecordProperty("ingress_verified_instructions",
                 static_cast<int>(netdev_->IngressFacts().verified_instructions));
  RecordProperty("egress_verified_instructions",
                 static_cast<int>(netdev_->EgressFacts().verified_instructions));
}

// Sixteen ports: the allocator's bounded probe covers the whole range, so the
// seventeenth concurrent flow to one remote endpoint is refused and counted.
class SmallSnatRange : public NodeDevice {
 protected:
  SmallSnatRange() {
    snat_min_ = 61000;
    snat_max_ = 61015;
  }
};

TEST_F(SmallSnatRange, CountsExhaustionInsteadOfReusingAPort) {
  std::set<uint16_t> ports;
  for (uint16_t sport = 40000; sport < 40016; ++sport) {
    std::vector<uint8_t> out;
    ASSERT_EQ(PodOut(kPodA, sport, kExternal, 80, kSyn, out), kActOk);
    ports.insert(SourcePort(out));
  }
  EXPECT_EQ(ports.size(), 16u);
  EXPECT_EQ(*ports.begin(), 61000);
  EXPECT_EQ(*ports.rbegin(), 61015);

  std::vector<uint8_t> out;
  EXPECT_EQ(PodOut(kPodA, 40016, kExternal, 80, kSyn, out), kActShot);
  EXPECT_EQ(Packets(KDP_DROP_NAT_EXHAUSTED), 1u);
  // Another remote endpoint has all sixteen ports to itself.
  EXPECT_EQ(PodOut(kPodA, 40016, kExternal, 443, kSyn, out), kActOk);
}

}  // namespace
}  // namespace kubedp
