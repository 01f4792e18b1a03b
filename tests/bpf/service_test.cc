// Service translation in the kernel: a packet to a ClusterIP leaves for a
// backend with both checksums still valid, its reply comes back from the
// ClusterIP, every packet of a connection keeps its backend, new connections
// spread, and a Service without backends rejects.
#include <map>
#include <set>

#include "bpf/pod_fixture.h"
#include "datapath/conntrack_map.h"
#include "datapath/service_maps.h"

namespace kubedp {
namespace {

using namespace kubedp::testing;  // NOLINT: constants and builders of the fixture

constexpr uint32_t kVip = 0x0a60000a;  // 10.96.0.10
constexpr int kActRedirect = 7;
constexpr int kActShot = 2;

class Service : public PodProgramFixture {
 protected:
  // One ClusterIP frontend, vip:80 over protocol, with backends on pod B (or A).
  void Program(uint8_t protocol, std::vector<uint16_t> backend_ports, uint32_t backend = kPodB,
               uint32_t affinity_timeout = 0,
               control::LbAlgorithm algorithm = control::LbAlgorithm::kDefault) {
    control::Frontend frontend{.kind = control::FrontendKind::kClusterIP,
                               .ip = kVip,
                               .port = 80,
                               .protocol = protocol,
                               .service = "shop/web",
                               .affinity_timeout_seconds = affinity_timeout,
                               .algorithm = algorithm};
    for (uint16_t port : backend_ports) {
      frontend.backends.push_back(
          {.ip = backend, .port = port, .ready = true, .serving = true, .node_name = "node1"});
    }
    control::ServiceTable table{.frontends = {frontend}};
    ASSERT_TRUE(
        datapath::ReconcileServiceMaps(
            {program_->ServicesFd(), program_->BackendsFd(), program_->MaglevFd()}, table, "node1")
            .ok());
  }

  std::vector<uint8_t> Send(uint32_t saddr, uint32_t daddr, uint16_t sport, uint16_t dport,
                            uint8_t protocol, uint8_t flags, int* verdict) {
    std::vector<uint8_t> out;
    *verdict = Run(FlowPacket(saddr, daddr, sport, dport, protocol, flags),
                   saddr == kPodA ? kIfA : kIfB, out);
    return out;
  }

  static uint16_t DestinationPort(const std::vector<uint8_t>& frame) {
    return ntohs(*reinterpret_cast<const uint16_t*>(frame.data() + 34 + 2));
  }
  static uint16_t SourcePort(const std::vector<uint8_t>& frame) {
    return ntohs(*reinterpret_cast<const uint16_t*>(frame.data() + 34));
  }
  static void ExpectChecksumsValid(const std::vector<uint8_t>& frame) {
    iphdr header = IpOf(frame);
    uint16_t carried = header.check;
    header.check = 0;
    EXPECT_EQ(Ipv4Checksum(header), carried) << "IPv4 header checksum";
    EXPECT_EQ(L4Checksum(frame), 0) << "TCP/UDP checksum over the rewritten segment";
  }
};

TEST_F(Service, TcpToClusterIpGoesToTheBackendAndTheReplyComesFromTheClusterIp) {
  Program(IPPROTO_TCP, {8080});
  int verdict = 0;
  auto out = Send(kPodA, kVip, 40000, 80, IPPROTO_TCP, kSyn, &verdict);
  ASSERT_EQ(verdict, kActRedirect);
  EXPECT_EQ(ntohl(IpOf(out).daddr), kPodB);
  EXPECT_EQ(DestinationPort(out), 8080);
  ExpectChecksumsValid(out);

  auto flows = datapath::CtMap(program_->CtFd()).List({});
  ASSERT_TRUE(flows.ok());
  ASSERT_EQ(flows->size(), 1u);
  EXPECT_EQ((*flows)[0].destination, "10.244.7.11") << "tracked as client <-> backend";

  auto reply = Send(kPodB, kPodA, 8080, 40000, IPPROTO_TCP, kSyn | kAck, &verdict);
  ASSERT_EQ(verdict, kActRedirect);
  EXPECT_EQ(ntohl(IpOf(reply).saddr), kVip) << "the reply comes from the ClusterIP";
  EXPECT_EQ(SourcePort(reply), 80);
  ExpectChecksumsValid(reply);
}

TEST_F(Service, UdpChecksumSurvivesTranslation) {
  Program(IPPROTO_UDP, {5353});
  int verdict = 0;
  auto out = Send(kPodA, kVip, 41000, 80, IPPROTO_UDP, 0, &verdict);
  ASSERT_EQ(verdict, kActRedirect);
  EXPECT_EQ(DestinationPort(out), 5353);
  ExpectChecksumsValid(out);
}

TEST_F(Service, AConnectionKeepsItsBackendAndNewOnesSpread) {
  Program(IPPROTO_TCP, {8080, 8081});
  std::set<uint16_t> chosen;
  for (uint16_t sport = 42000; sport < 42030; ++sport) {
    int verdict = 0;
    uint16_t first = DestinationPort(Send(kPodA, kVip, sport, 80, IPPROTO_TCP, kSyn, &verdict));
    ASSERT_EQ(verdict, kActRedirect);
    Send(kPodB, kPodA, first, sport, IPPROTO_TCP, kSyn | kAck, &verdict);
    for (int i = 0; i < 3; ++i) {
      uint16_t later = DestinationPort(Send(kPodA, kVip, sport, 80, IPPROTO_TCP, kAck, &verdict));
      EXPECT_EQ(later, first) << "every packet of a connection goes to its backend";
    }
    chosen.insert(first);
  }
  EXPECT_EQ(chosen, (std::set<uint16_t>{8080, 8081})) << "30 connections use both backends";
}

TEST_F(Service, ClientIpAffinityKeepsAClientOnOneBackendUntilItTimesOut) {
  Program(IPPROTO_TCP, {8080, 8081}, kPodB, /*affinity_timeout=*/5);
  int verdict = 0;
  uint16_t first = DestinationPort(Send(kPodA, kVip, 46000, 80, IPPROTO_TCP, kSyn, &verdict));
  for (uint16_t sport = 46001; sport < 46030; ++sport) {
    EXPECT_EQ(DestinationPort(Send(kPodA, kVip, sport, 80, IPPROTO_TCP, kSyn, &verdict)), first)
        << "every new connection of the client goes to its backend";
  }
  // Age the client's record past the timeout: the next connection chooses again.
  std::set<uint16_t> after_timeout;
  for (uint16_t sport = 47000; sport < 47030; ++sport) {
    kdp_affinity_key key{.client_addr = htonl(kPodA), .service_id = 1};
    kdp_affinity held{};
    ASSERT_EQ(bpf_map_lookup_elem(program_->AffinityFd(), &key, &held), 0);
    held.last_used_ns = datapath::MonotonicNowNs() - 10'000'000'000ull;  // 10 s ago
    ASSERT_EQ(bpf_map_update_elem(program_->AffinityFd(), &key, &held, BPF_EXIST), 0);
    after_timeout.insert(
        DestinationPort(Send(kPodA, kVip, sport, 80, IPPROTO_TCP, kSyn, &verdict)));
  }
  EXPECT_EQ(after_timeout.size(), 2u) << "after the timeout the choice is free again";
}

TEST_F(Service, MaglevChoosesByTheFlowNotByChanceOrState) {
  Program(IPPROTO_TCP, {8080, 8081, 8082}, kPodB, 0, control::LbAlgorithm::kMaglev);
  std::map<uint16_t, uint16_t> first;
  for (uint16_t sport = 43000; sport < 43200; ++sport) {
    int verdict = 0;
    first[sport] = DestinationPort(Send(kPodA, kVip, sport, 80, IPPROTO_TCP, kSyn, &verdict));
    ASSERT_EQ(verdict, kActRedirect);
  }
  // Forget every connection: the same flows hash to the same backends again.
  ASSERT_TRUE(datapath::CtMap(program_->CtFd()).Flush().ok());
  for (uint16_t sport = 43000; sport < 43200; ++sport) {
    int verdict = 0;
    EXPECT_EQ(DestinationPort(Send(kPodA, kVip, sport, 80, IPPROTO_TCP, kSyn, &verdict)),
              first[sport]);
  }
  std::map<uint16_t, int> spread;
  for (const auto& [sport, backend] : first) ++spread[backend];
  EXPECT_EQ(spread.size(), 3u) << "200 flows reach all three backends";
}

TEST_F(Service, CountsConnectionsPacketsAndRefusalsPerService) {
  Program(IPPROTO_TCP, {8080});
  int verdict = 0;
  Send(kPodA, kVip, 45000, 80, IPPROTO_TCP, kSyn, &verdict);
  Send(kPodB, kPodA, 8080, 45000, IPPROTO_TCP, kSyn | kAck, &verdict);
  for (int i = 0; i < 3; ++i) Send(kPodA, kVip, 45000, 80, IPPROTO_TCP, kAck, &verdict);
  datapath::ServiceMapFds maps{program_->ServicesFd(), program_->BackendsFd(), program_->MaglevFd(),
                               program_->ServiceMetricsFd()};
  kdp_service_key key{.vip = htonl(kVip), .port = htons(80), .protocol = IPPROTO_TCP};
  auto counters = datapath::ReadServiceCounters(maps, key);
  ASSERT_TRUE(counters.ok());
  EXPECT_EQ(counters->connections, 1u);
  EXPECT_EQ(counters->packets, 4u) << "forward packets of the connection";
  EXPECT_EQ(counters->refused, 0u);

  Program(IPPROTO_TCP, {});
  Send(kPodA, kVip, 45001, 80, IPPROTO_TCP, kSyn, &verdict);
  counters = datapath::ReadServiceCounters(maps, key);
  ASSERT_TRUE(counters.ok());
  EXPECT_EQ(counters->refused, 1u);
  EXPECT_EQ(counters->connections, 1u) << "the frontend kept its id and its counts";
}

TEST_F(Service, ServiceIdsStayWithTheirFrontendWhenOthersGo) {
  auto frontend = [](uint32_t vip) {
    return control::Frontend{.kind = control::FrontendKind::kClusterIP,
                             .ip = vip,
                             .port = 80,
                             .protocol = IPPROTO_TCP,
                             .service = "shop/web",
                             .backends = {{.ip = kPodB, .port = 8080, .ready = true}}};
  };
  datapath::ServiceMapFds maps{program_->ServicesFd(), program_->BackendsFd(), program_->MaglevFd(),
                               program_->ServiceMetricsFd()};
  auto id_of = [&](uint32_t vip) {
    kdp_service_key key{.vip = htonl(vip), .port = htons(80), .protocol = IPPROTO_TCP};
    kdp_service_info info{};
    EXPECT_EQ(bpf_map_lookup_elem(maps.services, &key, &info), 0);
    return info.service_id;
  };
  control::ServiceTable both{.frontends = {frontend(kVip), frontend(kVip + 1)}};
  ASSERT_TRUE(datapath::ReconcileServiceMaps(maps, both, "node1").ok());
  uint32_t second = id_of(kVip + 1);
  control::ServiceTable one{.frontends = {frontend(kVip + 1)}};
  ASSERT_TRUE(datapath::ReconcileServiceMaps(maps, one, "node1").ok());
  EXPECT_EQ(id_of(kVip + 1), second);
}

// A TCP connection to a Service without backends is refused at once: the SYN
// comes back to the client as the RST/ACK of the Service address.
TEST_F(Service, AServiceWithoutBackendsRefusesTcpAtOnce) {
  Program(IPPROTO_TCP, {});
  uint64_t before = Packets(KDP_DROP_NO_BACKEND);
  int verdict = 0;
  auto out = Send(kPodA, kVip, 43000, 80, IPPROTO_TCP, kSyn, &verdict);
  EXPECT_EQ(verdict, kActRedirect) << "sent back to the client";
  EXPECT_EQ(Packets(KDP_DROP_NO_BACKEND), before + 1);
  ASSERT_EQ(out.size(), 54u) << "Ethernet + IPv4 + TCP, no payload";
  EXPECT_EQ(MacOf(EthOf(out).h_dest), (Mac{0x02, 0xaa, 0, 0, 0, 1})) << "to the client's MAC";
  EXPECT_EQ(ntohl(IpOf(out).saddr), kVip);
  EXPECT_EQ(ntohl(IpOf(out).daddr), kPodA);
  EXPECT_EQ(SourcePort(out), 80);
  EXPECT_EQ(DestinationPort(out), 43000);
  EXPECT_EQ(out[34 + 13], kRst | kAck);
  uint32_t ack = 0;
  std::memcpy(&ack, out.data() + 34 + 8, sizeof(ack));
  EXPECT_EQ(ntohl(ack), 1u) << "acknowledges the SYN (sequence 0 + 1)";
  ExpectChecksumsValid(out);
}

// UDP to a Service without backends gets the ICMP port unreachable of the
// Service address, quoting the datagram.
TEST_F(Service, AServiceWithoutBackendsAnswersUdpWithPortUnreachable) {
  Program(IPPROTO_UDP, {});
  int verdict = 0;
  auto out = Send(kPodA, kVip, 43001, 80, IPPROTO_UDP, 0, &verdict);
  EXPECT_EQ(verdict, kActRedirect) << "sent back to the client";
  ASSERT_EQ(out.size(), 70u) << "Ethernet + IPv4 + ICMP + quoted IPv4 + 8 bytes";
  EXPECT_EQ(MacOf(EthOf(out).h_dest), (Mac{0x02, 0xaa, 0, 0, 0, 1}));
  EXPECT_EQ(IpOf(out).protocol, IPPROTO_ICMP);
  EXPECT_EQ(ntohl(IpOf(out).saddr), kVip);
  EXPECT_EQ(ntohl(IpOf(out).daddr), kPodA);
  EXPECT_EQ(Ipv4Checksum(IpOf(out)), 0);
  EXPECT_EQ(out[34], 3) << "destination unreachable";
  EXPECT_EQ(out[35], 3) << "port unreachable";
  uint32_t sum = 0;
  for (size_t i = 34; i + 1 < out.size(); i += 2) sum += (out[i] << 8) | out[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  EXPECT_EQ(sum, 0xffffu) << "ICMP checksum";
  const auto* quoted = reinterpret_cast<const iphdr*>(out.data() + 42);
  EXPECT_EQ(ntohl(quoted->saddr), kPodA);
  EXPECT_EQ(ntohl(quoted->daddr), kVip);
  EXPECT_EQ(ntohs(*reinterpret_cast<const uint16_t*>(out.data() + 62)), 43001);
}

TEST_F(Service, ANewConnectionOnAClosedTupleChoosesAgain) {
  Program(IPPROTO_TCP, {8080});
  int verdict = 0;
  Send(kPodA, kVip, 44000, 80, IPPROTO_TCP, kSyn, &verdict);
  Send(kPodB, kPodA, 8080, 44000, IPPROTO_TCP, kRst, &verdict);
  // The backend moves; the same client tuple opens a new connection at once.
  Program(IPPROTO_TCP, {8081});
  auto out = Send(kPodA, kVip, 44000, 80, IPPROTO_TCP, kSyn, &verdict);
  ASSERT_EQ(verdict, kActRedirect);
  EXPECT_EQ(DestinationPort(out), 8081) << "the closed flow's backend is not reused";
}

// A pod reaching itself through its Service: it sees the hairpin source, its
// reply comes back from the ClusterIP, and its ingress policy (deny all here)
// applies to neither.
TEST_F(Service, APodReachesItselfThroughItsService) {
  Program(IPPROTO_TCP, {8080}, kPodA);
  control::EndpointRecord a{.ip = kPodA, .endpoint_id = 1, .ifindex = kIfA};
  control::EndpointRecord b{
      .ip = kPodB, .endpoint_id = 2, .ifindex = kIfB, .pod_mac = kPodBMac, .host_mac = kHostBMac};
  control::EndpointTable endpoints = control::CompileEndpoints({a, b});
  endpoints[htonl(kPodA)].flags |= KDP_ENDPOINT_F_INGRESS_ISOLATED;  // no rule: deny all
  ASSERT_TRUE(datapath::EndpointMap(program_->EndpointsFd()).Reconcile(endpoints).ok());

  int verdict = 0;
  auto out = Send(kPodA, kVip, 40000, 80, IPPROTO_TCP, kSyn, &verdict);
  ASSERT_EQ(verdict, kActRedirect);
  EXPECT_EQ(ntohl(IpOf(out).saddr), static_cast<uint32_t>(KDP_HAIRPIN_SOURCE));
  EXPECT_EQ(ntohl(IpOf(out).daddr), kPodA);
  EXPECT_EQ(DestinationPort(out), 8080);
  ExpectChecksumsValid(out);

  auto reply = Send(kPodA, KDP_HAIRPIN_SOURCE, 8080, 40000, IPPROTO_TCP, kSyn | kAck, &verdict);
  ASSERT_EQ(verdict, kActRedirect) << "a reply, not judged by the pod's ingress policy";
  EXPECT_EQ(ntohl(IpOf(reply).saddr), kVip);
  EXPECT_EQ(SourcePort(reply), 80);
  EXPECT_EQ(ntohl(IpOf(reply).daddr), kPodA);
  ExpectChecksumsValid(reply);

  // Closing from either side retires the flow: the same tuple opens again at once.
  Send(kPodA, KDP_HAIRPIN_SOURCE, 8080, 40000, IPPROTO_TCP, kRst, &verdict);
  auto flows = datapath::CtMap(program_->CtFd()).List({});
  ASSERT_TRUE(flows.ok());
  ASSERT_EQ(flows->size(), 1u) << "one record for the hairpin flow";
  EXPECT_EQ((*flows)[0].state, "closed");
  Send(kPodA, kVip, 40000, 80, IPPROTO_TCP, kSyn, &verdict);
  EXPECT_EQ(verdict, kActRedirect);
  flows = datapath::CtMap(program_->CtFd()).List({});
  ASSERT_TRUE(flows.ok());
  EXPECT_EQ((*flows)[0].state, "syn-sent");
}

}  // namespace
}  // namespace kubedp
