// The pod program in the kernel: each row is a crafted frame, the endpoints the
// map holds, and the verdict, reason counter and rewritten frame expected.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <string>

#include "bpf/pod_fixture.h"
#include "common/reasons.h"

namespace kubedp {
namespace {

using namespace kubedp::testing;  // NOLINT: constants and builders of the fixture

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
  // Grows with the datapath on purpose; a jump past it must be looked at.
  constexpr uint32_t kBudget = 20000;
  EXPECT_GT(program_->VerifiedInstructions(), 0u);
  EXPECT_LE(program_->VerifiedInstructions(), kBudget);
  RecordProperty("verified_instructions", static_cast<int>(program_->VerifiedInstructions()));
}

}  // namespace
}  // namespace kubedp
