// Conntrack in the kernel: TCP transitions, UDP and ICMP echo, a tuple reused
// after a close, expiry (with lifetimes written into the map), and the sweep.
#include "bpf/pod_fixture.h"
#include "datapath/conntrack_map.h"
#include "datapath/gc_program.h"

namespace kubedp {
namespace {

using namespace kubedp::testing;  // NOLINT: constants and builders of the fixture

class Conntrack : public PodProgramFixture {
 protected:
  // A segment of the flow pod A:40000 -> pod B:8080, from either side.
  int Send(uint8_t protocol, bool from_a, uint8_t tcp_flags = 0) {
    PacketSpec spec;
    spec.protocol = protocol;
    spec.saddr = from_a ? kPodA : kPodB;
    spec.daddr = from_a ? kPodB : kPodA;
    spec.sport = from_a ? 40000 : 8080;
    spec.dport = from_a ? 8080 : 40000;
    spec.tcp_flags = tcp_flags;
    std::vector<uint8_t> out;
    return Run(BuildPacket(spec), from_a ? kIfA : kIfB, out);
  }

  std::vector<control::CtRow> Rows() {
    auto rows = datapath::CtMap(program_->CtFd()).List({});
    EXPECT_TRUE(rows.ok());
    return rows.ok() ? *rows : std::vector<control::CtRow>{};
  }

  control::CtRow Only() {
    auto rows = Rows();
    EXPECT_EQ(rows.size(), 1u) << "one record per flow, whichever side sends";
    return rows.empty() ? control::CtRow{} : rows[0];
  }
};

TEST_F(Conntrack, TcpHandshakeEstablishesOneRecordForBothDirections) {
  Send(IPPROTO_TCP, true, kSyn);
  control::CtRow row = Only();
  EXPECT_EQ(row.state, "syn-sent");
  EXPECT_EQ(row.source, "10.244.7.10");
  EXPECT_EQ(row.destination_port, 8080);
  EXPECT_NEAR(row.expires_in_seconds, 60, 1);

  Send(IPPROTO_TCP, false, kSyn | kAck);
  Send(IPPROTO_TCP, true, kAck);
  row = Only();
  EXPECT_EQ(row.state, "established");
  EXPECT_EQ(row.source, "10.244.7.10") << "still oriented from the initiator";
  EXPECT_EQ(row.packets_original, 2u);
  EXPECT_EQ(row.packets_reply, 1u);
  EXPECT_NEAR(row.expires_in_seconds, 21600, 1);
}

TEST_F(Conntrack, FinFromBothSidesClosesWithTheCloseTimeout) {
  Send(IPPROTO_TCP, true, kSyn);
  Send(IPPROTO_TCP, false, kSyn | kAck);
  Send(IPPROTO_TCP, true, kFin | kAck);
  EXPECT_EQ(Only().state, "fin-wait");
  Send(IPPROTO_TCP, false, kFin | kAck);
  control::CtRow row = Only();
  EXPECT_EQ(row.state, "closing");
  EXPECT_NEAR(row.expires_in_seconds, 10, 1);
}

TEST_F(Conntrack, RstClosesAtOnceAndANewSynStartsAFreshFlow) {
  Send(IPPROTO_TCP, true, kSyn);
  Send(IPPROTO_TCP, false, kSyn | kAck);
  Send(IPPROTO_TCP, false, kRst);
  EXPECT_EQ(Only().state, "closed");

  // The same 5-tuple, at once: a new connection, not a stray of the old one.
  Send(IPPROTO_TCP, true, kSyn);
  control::CtRow row = Only();
  EXPECT_EQ(row.state, "syn-sent");
  EXPECT_EQ(row.packets_original, 1u);
  EXPECT_EQ(row.packets_reply, 0u);
}

TEST_F(Conntrack, ExpiredRecordIsReplacedByTheNextPacket) {
  Send(IPPROTO_UDP, true);
  Send(IPPROTO_UDP, false);
  EXPECT_EQ(Only().state, "established");
  // Age the record: its lifetime ended long ago.
  kdp_ct_key key{}, next{};
  ASSERT_EQ(bpf_map_get_next_key(program_->CtFd(), nullptr, &next), 0);
  key = next;
  kdp_ct_entry entry{};
  ASSERT_EQ(bpf_map_lookup_elem(program_->CtFd(), &key, &entry), 0);
  entry.expires_ns = 1;
  ASSERT_EQ(bpf_map_update_elem(program_->CtFd(), &key, &entry, BPF_EXIST), 0);

  Send(IPPROTO_UDP, false);  // the old responder now starts a flow of its own
  control::CtRow row = Only();
  EXPECT_EQ(row.state, "unreplied");
  EXPECT_EQ(row.source, "10.244.7.11");
}

TEST_F(Conntrack, UdpBecomesEstablishedOnTheFirstReply) {
  Send(IPPROTO_UDP, true);
  control::CtRow row = Only();
  EXPECT_EQ(row.state, "unreplied");
  EXPECT_NEAR(row.expires_in_seconds, 30, 1);
  Send(IPPROTO_UDP, false);
  row = Only();
  EXPECT_EQ(row.state, "established");
  EXPECT_NEAR(row.expires_in_seconds, 120, 1);
}

TEST_F(Conntrack, IcmpEchoRequestAndReplyShareARecord) {
  PacketSpec request;
  request.protocol = IPPROTO_ICMP;
  request.saddr = kPodA;
  request.daddr = kPodB;
  request.icmp_type = 8;
  request.icmp_id = 77;
  PacketSpec reply = request;
  reply.saddr = kPodB;
  reply.daddr = kPodA;
  reply.icmp_type = 0;
  std::vector<uint8_t> out;
  Run(BuildPacket(request), kIfA, out);
  Run(BuildPacket(reply), kIfB, out);
  control::CtRow row = Only();
  EXPECT_EQ(row.protocol, "ICMP");
  EXPECT_EQ(row.state, "established");
  EXPECT_EQ(row.source_port, 77);
}

TEST_F(Conntrack, SweepRemovesOnlyExpiredRecords) {
  Send(IPPROTO_UDP, true);  // live for 30 s
  kdp_ct_key stale{.addr_a = htonl(0x0a000001), .addr_b = htonl(0x0a000002), .protocol = 17};
  kdp_ct_entry expired{};
  expired.state = KDP_CT_UNREPLIED;
  expired.expires_ns = 1;
  ASSERT_EQ(bpf_map_update_elem(program_->CtFd(), &stale, &expired, BPF_ANY), 0);
  ASSERT_EQ(Rows().size(), 2u);

  datapath::CtMap map(program_->CtFd());
  auto removed = map.Sweep(datapath::MonotonicNowNs());
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 1u);
  EXPECT_EQ(Only().destination, "10.244.7.11") << "the live flow stays";
  auto flushed = map.Flush();
  ASSERT_TRUE(flushed.ok());
  EXPECT_EQ(*flushed, 1u);
  EXPECT_TRUE(Rows().empty());
}

// The sweep the agent runs: batch reads, expired records handed to the kernel.
TEST_F(Conntrack, KernelSweepRemovesOnlyExpiredRecords) {
  Send(IPPROTO_UDP, true);  // live for 30 s
  for (uint32_t i = 0; i < 1000; ++i) {
    kdp_ct_key stale{.addr_a = htonl(0x0a000001 + i), .addr_b = htonl(0x0a100002), .protocol = 17};
    kdp_ct_entry expired{};
    expired.state = KDP_CT_UNREPLIED;
    expired.expires_ns = 1;
    ASSERT_EQ(bpf_map_update_elem(program_->CtFd(), &stale, &expired, BPF_ANY), 0);
  }
  ASSERT_EQ(Rows().size(), 1001u);

  auto gc = datapath::GcProgram::Load(datapath::NodePinDir(node_));
  ASSERT_TRUE(gc.ok()) << gc.status().message();
  auto swept = (*gc)->ExpireConntrack(datapath::MonotonicNowNs());
  ASSERT_TRUE(swept.ok()) << swept.status().message();
  EXPECT_EQ(swept->removed, 1000u);
  EXPECT_EQ(swept->remaining, 1u);
  EXPECT_EQ(Only().destination, "10.244.7.11") << "the live flow stays";
}

// A record that looked expired when read but was refreshed before the
// kernel's turn (here: handed over while live) must stay.
TEST_F(Conntrack, KernelDeletesOnlyCandidatesStillExpired) {
  kdp_ct_key live{.addr_a = htonl(0x0a000001), .addr_b = htonl(0x0a100002), .protocol = 17};
  kdp_ct_key stale{.addr_a = htonl(0x0a000002), .addr_b = htonl(0x0a100002), .protocol = 17};
  kdp_ct_entry entry{};
  entry.state = KDP_CT_UNREPLIED;
  entry.expires_ns = datapath::MonotonicNowNs() + 30'000'000'000ull;
  ASSERT_EQ(bpf_map_update_elem(program_->CtFd(), &live, &entry, BPF_ANY), 0);
  entry.expires_ns = 1;
  ASSERT_EQ(bpf_map_update_elem(program_->CtFd(), &stale, &entry, BPF_ANY), 0);

  auto gc = datapath::GcProgram::Load(datapath::NodePinDir(node_));
  ASSERT_TRUE(gc.ok()) << gc.status().message();
  auto removed = (*gc)->ExpireCandidates({live, stale}, datapath::MonotonicNowNs());
  ASSERT_TRUE(removed.ok()) << removed.status().message();
  EXPECT_EQ(*removed, 1u);
  kdp_ct_entry held{};
  EXPECT_EQ(bpf_map_lookup_elem(program_->CtFd(), &live, &held), 0) << "the refreshed record stays";
  EXPECT_NE(bpf_map_lookup_elem(program_->CtFd(), &stale, &held), 0);
}

}  // namespace
}  // namespace kubedp
