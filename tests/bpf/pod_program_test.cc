// The pod program in the kernel: each row is a crafted frame, the endpoints the
// map holds, and the verdict, reason counter and rewritten frame expected.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <string>

#include "bpf/packet.h"
#include "common/reasons.h"
#include "datapath/maps.h"
#include "datapath/pins.h"
#include "datapath/pod_program.h"

namespace kubedp {
namespace {

using testing::BuildPacket;
using testing::Mac;
using testing::PacketSpec;

constexpr uint32_t kPodCidr = 0x0af40700;  // 10.244.7.0/24
constexpr uint32_t kRouter = 0x0af40701;   // 10.244.7.1
constexpr uint32_t kPodA = 0x0af4070a;     // 10.244.7.10, on ifindex 42
constexpr uint32_t kPodB = 0x0af4070b;     // 10.244.7.11, on ifindex 43
constexpr int kIfA = 42;
constexpr int kIfB = 43;
const Mac kPodBMac{0x02, 0x00, 0x00, 0x00, 0x0b, 0x01};
const Mac kHostBMac{0x02, 0xfe, 0x00, 0x00, 0x0b, 0x02};

constexpr int kActOk = 0;
constexpr int kActShot = 2;
constexpr int kActRedirect = 7;

struct Case {
  const char* description;
  PacketSpec packet;
  uint32_t ingress_ifindex;
  int verdict;
  uint32_t reason;
  bool rewritten;                  // MACs and TTL rewritten for local delivery to pod B
  bool bad_header_length = false;  // IPv4 IHL below the minimum of 5
};

PacketSpec Udp(uint32_t saddr, uint32_t daddr, uint8_t ttl = 64) {
  PacketSpec spec;
  spec.saddr = saddr;
  spec.daddr = daddr;
  spec.ttl = ttl;
  return spec;
}

PacketSpec Arp() {
  PacketSpec spec;
  spec.ethertype = ETH_P_ARP;
  return spec;
}

class PodProgramFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    node_ = "kubedp-bpftest-" + std::to_string(getpid());
    ASSERT_TRUE(datapath::EnsureBpffsMounted().ok());
    ASSERT_TRUE(datapath::CreateNodePinDir(node_).ok());
    kdp_node_config config{.pod_cidr = htonl(kPodCidr),
                           .pod_cidr_mask = htonl(0xffffff00),
                           .router_ip = htonl(kRouter)};
    auto program = datapath::PodProgram::Load(datapath::NodePinDir(node_), config);
    ASSERT_TRUE(program.ok()) << program.status().message();
    program_ = std::move(program).value();

    datapath::EndpointMap endpoints(program_->EndpointsFd());
    control::EndpointRecord a{.ip = kPodA, .endpoint_id = 1, .ifindex = kIfA};
    control::EndpointRecord b{
        .ip = kPodB, .endpoint_id = 2, .ifindex = kIfB, .pod_mac = kPodBMac, .host_mac = kHostBMac};
    ASSERT_TRUE(endpoints.Reconcile(control::CompileEndpoints({a, b})).ok());
  }

  void TearDown() override {
    program_.reset();
    EXPECT_TRUE(datapath::RemoveNodePinDir(node_).ok());
  }

  uint64_t Packets(uint32_t reason) {
    auto rows = datapath::MetricsMap(program_->MetricsFd()).Read();
    EXPECT_TRUE(rows.ok());
    for (const auto& row : *rows) {
      if (row.reason == reason && row.direction == KDP_DIR_FROM_POD) return row.packets;
    }
    return 0;
  }

  // Runs one frame through the program; returns the verdict and fills out.
  int Run(const std::vector<uint8_t>& in, uint32_t ingress_ifindex, std::vector<uint8_t>& out) {
    out.assign(in.size() + 64, 0);
    __sk_buff ctx{};
    ctx.ingress_ifindex = ingress_ifindex;
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in.data(), .data_out = out.data(),
                .data_size_in = static_cast<uint32_t>(in.size()),
                .data_size_out = static_cast<uint32_t>(out.size()), .ctx_in = &ctx,
                .ctx_size_in = sizeof(ctx));
    int err = bpf_prog_test_run_opts(program_->ProgramFd(), &opts);
    EXPECT_EQ(err, 0) << strerror(errno);
    out.resize(opts.data_size_out);
    return static_cast<int>(opts.retval);
  }

  std::string node_;
  std::unique_ptr<datapath::PodProgram> program_;
};

class PodProgramRows : public PodProgramFixture, public ::testing::WithParamInterface<Case> {};

TEST_P(PodProgramRows, VerdictCounterAndRewrite) {
  const Case& c = GetParam();
  std::vector<uint8_t> in = BuildPacket(c.packet);
  if (c.bad_header_length) in[sizeof(ethhdr)] = 0x43;
  std::vector<uint8_t> out;

  uint64_t before = Packets(c.reason);
  EXPECT_EQ(Run(in, c.ingress_ifindex, out), c.verdict);
  EXPECT_EQ(Packets(c.reason), before + 1) << "reason " << ReasonLabel(c.reason);
  ASSERT_EQ(out.size(), in.size());
  if (!c.rewritten) {
    EXPECT_EQ(out, in) << "a frame that is not delivered locally is not modified";
    return;
  }
  EXPECT_EQ(testing::MacOf(testing::EthOf(out).h_dest), kPodBMac);
  EXPECT_EQ(testing::MacOf(testing::EthOf(out).h_source), kHostBMac);
  EXPECT_EQ(testing::IpOf(out).ttl, c.packet.ttl - 1);
  iphdr header = testing::IpOf(out);
  uint16_t carried = header.check;
  header.check = 0;
  EXPECT_EQ(testing::Ipv4Checksum(header), carried) << "IPv4 checksum after TTL decrement";
}

INSTANTIATE_TEST_SUITE_P(
    Table, PodProgramRows,
    ::testing::Values(
        Case{"pod_to_local_pod", Udp(kPodA, kPodB), kIfA, kActRedirect, KDP_FORWARDED, true},
        Case{"pod_to_router", Udp(kPodA, kRouter), kIfA, kActOk, KDP_TO_HOST, false},
        Case{"pod_to_off_cluster", Udp(kPodA, 0xc0000201), kIfA, kActOk, KDP_TO_STACK, false},
        Case{"unknown_pod_in_range", Udp(kPodA, 0x0af407c8), kIfA, kActShot, KDP_DROP_UNKNOWN_DEST,
             false},
        Case{"source_of_another_pod", Udp(kPodB, kPodA), kIfA, kActShot, KDP_DROP_SPOOFED_SOURCE,
             false},
        Case{"source_not_an_endpoint", Udp(0x0af40763, kPodB), kIfA, kActShot,
             KDP_DROP_SPOOFED_SOURCE, false},
        Case{"ttl_exhausted", Udp(kPodA, kPodB, 1), kIfA, kActShot, KDP_DROP_TTL_EXCEEDED, false},
        Case{"arp_left_to_kernel", Arp(), kIfA, kActOk, KDP_PASS_NON_IPV4, false},
        Case{"ipv4_header_too_short", Udp(kPodA, kPodB), kIfA, kActShot, KDP_DROP_MALFORMED, false,
             true}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.description; });

// Drops are reported to user space with the flow and the reason.
TEST_F(PodProgramFixture, DropIsReportedOnTheEventRing) {
  PacketSpec spec = Udp(kPodA, 0x0af407c8);
  spec.dport = 5353;
  std::vector<uint8_t> out;
  ASSERT_EQ(Run(BuildPacket(spec), kIfA, out), kActShot);

  std::optional<kdp_drop_event> seen;
  auto on_event = [](void* ctx, void* data, size_t size) -> int {
    if (size >= sizeof(kdp_drop_event)) {
      auto* target = static_cast<std::optional<kdp_drop_event>*>(ctx);
      *target = *static_cast<const kdp_drop_event*>(data);
    }
    return 0;
  };
  ring_buffer* ring = ring_buffer__new(program_->EventsFd(), on_event, &seen, nullptr);
  ASSERT_NE(ring, nullptr);
  ring_buffer__consume(ring);
  ring_buffer__free(ring);

  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(seen->header.type, KDP_EVENT_DROP);
  EXPECT_EQ(seen->reason, KDP_DROP_UNKNOWN_DEST);
  EXPECT_EQ(seen->saddr, htonl(kPodA));
  EXPECT_EQ(seen->daddr, htonl(0x0af407c8));
  EXPECT_EQ(seen->dport, htons(5353));
  EXPECT_EQ(seen->protocol, IPPROTO_UDP);
}

// The verifier's work is the program's complexity budget: a jump fails loudly.
TEST_F(PodProgramFixture, StaysWithinVerifierBudget) {
  constexpr uint32_t kBudget = 1000;
  EXPECT_GT(program_->VerifiedInstructions(), 0u);
  EXPECT_LE(program_->VerifiedInstructions(), kBudget);
  RecordProperty("verified_instructions", static_cast<int>(program_->VerifiedInstructions()));
}

}  // namespace
}  // namespace kubedp
