// SyncMap against real kernel maps of both kinds the agent reconciles: a
// hash map (batch reads by bucket) and an LPM trie (the kernel's generic
// batch walk, whose cursor is a whole key), each across several batches.
#include "datapath/map_sync.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <linux/bpf.h>

#include <algorithm>
#include <cstring>

#include <gtest/gtest.h>

#include "common/fd.h"
#include "kubedp/abi.h"

namespace kubedp::datapath {
namespace {

constexpr uint32_t kEntries = 10000;  // more than two batches of 4096

template <typename Key, typename Value>
KernelTable<Key, Value> Read(int fd) {
  auto table = DumpMap<Key, Value>(fd, "the test map");
  EXPECT_TRUE(table.ok()) << table.status().message();
  return table.ok() ? *table : KernelTable<Key, Value>{};
}

// ABI structs have no operator==: same entries, byte for byte.
template <typename Key, typename Value>
bool SameTable(const KernelTable<Key, Value>& a, const KernelTable<Key, Value>& b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](const auto& x, const auto& y) {
           return std::memcmp(&x.first, &y.first, sizeof(Key)) == 0 &&
                  std::memcmp(&x.second, &y.second, sizeof(Value)) == 0;
         });
}

kdp_policy_peer_key PeerKey(uint32_t i) {
  kdp_policy_peer_key key{};
  key.prefixlen = KDP_POLICY_PEER_FIXED_BITS + 32;  // a whole address
  key.endpoint_id = htonl(7);
  key.direction = KDP_POLICY_INGRESS;
  key.remote = htonl(0xac140000u + i);
  return key;
}

TEST(SyncMap, LpmTrieAcrossBatches) {
  LIBBPF_OPTS(bpf_map_create_opts, options, .map_flags = BPF_F_NO_PREALLOC);
  UniqueFd fd(bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "kdp_test_lpm", sizeof(kdp_policy_peer_key),
                             sizeof(kdp_policy_rules), 2 * kEntries, &options));
  ASSERT_TRUE(fd.valid()) << "bpf_map_create: " << strerror(errno);
  KernelTable<kdp_policy_peer_key, kdp_policy_rules> desired;
  for (uint32_t i = 0; i < kEntries; ++i) desired[PeerKey(i)] = kdp_policy_rules{.bits = i + 1};
  auto first = SyncMap(fd.get(), desired, "the test map");
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_EQ(first->written, kEntries);
  EXPECT_TRUE(SameTable(Read<kdp_policy_peer_key, kdp_policy_rules>(fd.get()), desired));

  // Half go, one changes, the rest stay untouched.
  KernelTable<kdp_policy_peer_key, kdp_policy_rules> next;
  for (uint32_t i = 0; i < kEntries; i += 2) next[PeerKey(i)] = kdp_policy_rules{.bits = i + 1};
  next[PeerKey(0)].bits = 99;
  auto second = SyncMap(fd.get(), next, "the test map");
  ASSERT_TRUE(second.ok()) << second.status().message();
  EXPECT_EQ(second->written, 1u);
  EXPECT_EQ(second->deleted, kEntries / 2);
  EXPECT_TRUE(SameTable(Read<kdp_policy_peer_key, kdp_policy_rules>(fd.get()), next));
}

TEST(SyncMap, HashMapAcrossBatches) {
  UniqueFd fd(bpf_map_create(BPF_MAP_TYPE_HASH, "kdp_test_hash", sizeof(kdp_backend_key),
                             sizeof(kdp_backend), 2 * kEntries, nullptr));
  ASSERT_TRUE(fd.valid()) << "bpf_map_create: " << strerror(errno);
  KernelTable<kdp_backend_key, kdp_backend> desired;
  for (uint32_t i = 0; i < kEntries; ++i) {
    desired[kdp_backend_key{.service_id = i / 10, .slot = i % 10}] =
        kdp_backend{.addr = htonl(0xac100000u + i), .port = htons(8080), .pad = 0};
  }
  auto first = SyncMap(fd.get(), desired, "the test map");
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_EQ(first->written, kEntries);
  desired.erase(desired.begin());
  auto second = SyncMap(fd.get(), desired, "the test map");
  ASSERT_TRUE(second.ok()) << second.status().message();
  EXPECT_EQ(second->written, 0u);
  EXPECT_EQ(second->deleted, 1u);
  EXPECT_TRUE(SameTable(Read<kdp_backend_key, kdp_backend>(fd.get()), desired));
}

}  // namespace
}  // namespace kubedp::datapath
