#include "ipam/allocator.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/ip.h"

namespace kubedp::ipam {
namespace {

uint32_t Ip(const char* text) {
  return *ParseIpv4(text);
}

// 64 hex digits, like a real container id, distinct per n.
std::string ContainerId(int n) {
  char prefix[13];
  std::snprintf(prefix, sizeof(prefix), "%012x", n);
  return std::string(prefix) + std::string(52, 'f');
}

AllocationRequest Request(const std::string& container_id, const std::string& pod_name = "pod") {
  return AllocationRequest{container_id, "eth0", "default", pod_name, "/var/run/netns/" + pod_name};
}

class AllocatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<Store>> store = Store::Open(":memory:");
    ASSERT_TRUE(store.ok()) << store.status().message();
    store_ = std::move(*store);
  }

  Allocator Make(const char* cidr) {
    Result<Allocator> allocator =
        Allocator::Create(*store_, *Ipv4Cidr::Parse(cidr), [this] { return now_; });
    EXPECT_TRUE(allocator.ok()) << allocator.status().message();
    return std::move(allocator).value();
  }

  // Allocates for container n and returns the address as text.
  std::string Take(Allocator& allocator, int n) {
    Result<Allocation> a = allocator.Allocate(Request(ContainerId(n), "pod" + std::to_string(n)));
    EXPECT_TRUE(a.ok()) << a.status().message();
    return a.ok() ? FormatIpv4(a->ip) : "";
  }

  std::unique_ptr<Store> store_;
  int64_t now_ = 1000;
};

TEST_F(AllocatorTest, RejectsRangesWithoutRoomForPods) {
  for (const char* cidr : {"10.0.0.0/31", "10.0.0.1/32"}) {
    Result<Allocator> allocator = Allocator::Create(*store_, *Ipv4Cidr::Parse(cidr));
    ASSERT_FALSE(allocator.ok()) << cidr;
    EXPECT_EQ(allocator.status().code(), EINVAL);
    EXPECT_EQ(allocator.status().message(),
              "pod range " + std::string(cidr) +
                  " is too small: it must leave room for the network, gateway and broadcast "
                  "addresses and at least one pod (use /30 or larger)");
  }
}

TEST_F(AllocatorTest, GatewayAndUsableCount) {
  Allocator slash30 = Make("10.0.0.0/30");
  EXPECT_EQ(slash30.UsableCount(), 1u);
  EXPECT_EQ(FormatIpv4(slash30.Gateway()), "10.0.0.1");
  Allocator slash24 = Make("10.244.1.0/24");
  EXPECT_EQ(slash24.UsableCount(), 253u);
  EXPECT_EQ(FormatIpv4(slash24.Gateway()), "10.244.1.1");
  EXPECT_EQ(slash24.range().ToString(), "10.244.1.0/24");
}

TEST_F(AllocatorTest, FillsASlash28WithoutReservedAddressesOrDuplicates) {
  Allocator allocator = Make("10.244.1.0/28");
  ASSERT_EQ(allocator.UsableCount(), 13u);
  std::vector<std::string> got;
  for (int n = 0; n < 13; ++n) got.push_back(Take(allocator, n));
  // In order from network + 2; .0 (network), .1 (gateway), .15 (broadcast) never appear.
  std::vector<std::string> expected;
  for (int host = 2; host <= 14; ++host) expected.push_back("10.244.1." + std::to_string(host));
  EXPECT_EQ(got, expected);
  EXPECT_EQ(std::set<std::string>(got.begin(), got.end()).size(), 13u);
  EXPECT_EQ(allocator.Allocate(Request(ContainerId(13))).status().code(), ENOSPC);
}

TEST_F(AllocatorTest, ExhaustionNamesTheRangeCountsAndOldestHolders) {
  Allocator allocator = Make("10.244.1.0/28");
  for (int n = 0; n < 13; ++n) {
    now_ = 1000 + n;
    Take(allocator, n);
  }
  now_ = 1120;
  Result<Allocation> none = allocator.Allocate(Request(ContainerId(99)));
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), ENOSPC);
  EXPECT_EQ(none.status().message(),
            "no free address in pod range 10.244.1.0/28: 13 of 13 usable addresses allocated; "
            "oldest holders: default/pod0 (container 000000000000, 120s), default/pod1 "
            "(container 000000000001, 119s), default/pod2 (container 000000000002, 118s); run "
            "'kubedp ipam gc' to free addresses of pods that are gone");
}

TEST_F(AllocatorTest, AllocateIsIdempotent) {
  Allocator allocator = Make("10.244.1.0/24");
  Result<Allocation> first = allocator.Allocate(Request(ContainerId(1)));
  ASSERT_TRUE(first.ok()) << first.status().message();
  now_ += 60;
  Result<Allocation> again = allocator.Allocate(Request(ContainerId(1)));
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->ip, first->ip);
  EXPECT_EQ(again->endpoint_id, first->endpoint_id);
  EXPECT_EQ(again->created_at, first->created_at);
  EXPECT_EQ(store_->List()->size(), 1u);

  // A second interface of the same container is a separate allocation.
  AllocationRequest net1 = Request(ContainerId(1));
  net1.ifname = "net1";
  Result<Allocation> other = allocator.Allocate(net1);
  ASSERT_TRUE(other.ok()) << other.status().message();
  EXPECT_NE(other->ip, first->ip);
}

TEST_F(AllocatorTest, RecordsTheInjectedClock) {
  Allocator allocator = Make("10.244.1.0/24");
  now_ = 1700000000;
  Result<Allocation> a = allocator.Allocate(Request(ContainerId(1)));
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->created_at, 1700000000);
  EXPECT_EQ((*store_->Find(ContainerId(1), "eth0"))->created_at, 1700000000);
}

TEST_F(AllocatorTest, RoundRobinDelaysReuseOfFreedAddresses) {
  Allocator allocator = Make("10.0.0.0/29");  // usable .2 to .6
  EXPECT_EQ(Take(allocator, 1), "10.0.0.2");
  EXPECT_EQ(Take(allocator, 2), "10.0.0.3");
  EXPECT_EQ(Take(allocator, 3), "10.0.0.4");
  ASSERT_TRUE(allocator.Release(ContainerId(1), "eth0").ok());
  // .2 is free but the cursor moves on past the last one handed out.
  EXPECT_EQ(Take(allocator, 4), "10.0.0.5");
  EXPECT_EQ(Take(allocator, 5), "10.0.0.6");
  // Wraps around to the first free address.
  EXPECT_EQ(Take(allocator, 6), "10.0.0.2");
  ASSERT_TRUE(allocator.Release(ContainerId(3), "eth0").ok());
  // Next free after .2, skipping the still-held .3.
  EXPECT_EQ(Take(allocator, 7), "10.0.0.4");
}

TEST_F(AllocatorTest, ReleaseThenAllocateReusesTheAddressWhenFull) {
  Allocator allocator = Make("10.0.0.0/29");
  for (int n = 0; n < 5; ++n) Take(allocator, n);
  ASSERT_EQ(allocator.Allocate(Request(ContainerId(9))).status().code(), ENOSPC);
  ASSERT_TRUE(allocator.Release(ContainerId(2), "eth0").ok());
  EXPECT_EQ(Take(allocator, 9), "10.0.0.4");
}

TEST_F(AllocatorTest, ReleaseIsIdempotent) {
  Allocator allocator = Make("10.0.0.0/29");
  Take(allocator, 1);
  EXPECT_TRUE(allocator.Release(ContainerId(1), "eth0").ok());
  EXPECT_TRUE(allocator.Release(ContainerId(1), "eth0").ok());
  EXPECT_TRUE(store_->List()->empty());
}

TEST_F(AllocatorTest, IgnoresAllocationsFromAnotherRange) {
  Allocator old_range = Make("10.0.0.0/30");
  EXPECT_EQ(Take(old_range, 1), "10.0.0.2");
  // The pod CIDR changed: the old allocation neither fills the new range nor
  // moves its cursor.
  Allocator new_range = Make("10.1.0.0/30");
  EXPECT_EQ(Take(new_range, 2), "10.1.0.2");
}

TEST_F(AllocatorTest, RequiresContainerIdAndInterface) {
  Allocator allocator = Make("10.0.0.0/29");
  AllocationRequest request = Request("");
  Result<Allocation> a = allocator.Allocate(request);
  EXPECT_EQ(a.status().code(), EINVAL);
  EXPECT_EQ(a.status().message(),
            "allocating an address: container id and interface name are required");
  request = Request(ContainerId(1));
  request.ifname = "";
  EXPECT_EQ(allocator.Allocate(request).status().code(), EINVAL);
}

class AllocatorFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir_template[] = "/tmp/kubedp-ipam-alloc-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
    path_ = dir_ + "/ipam.db";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string dir_;
  std::string path_;
};

// Two connections to one file stand in for two CNI processes: the write
// transaction around pick-and-insert must keep them from choosing alike.
TEST_F(AllocatorFileTest, ConcurrentStoresNeverHandOutTheSameAddress) {
  constexpr int kPerThread = 60;
  const Ipv4Cidr range = *Ipv4Cidr::Parse("10.244.0.0/24");
  std::vector<std::string> errors[2];
  auto worker = [&](int thread) {
    // Opened inside the thread so schema creation races as well.
    Result<std::unique_ptr<Store>> store = Store::Open(path_);
    if (!store.ok()) {
      errors[thread].push_back(store.status().message());
      return;
    }
    Result<Allocator> allocator = Allocator::Create(**store, range, [] { return int64_t{5}; });
    for (int i = 0; i < kPerThread && allocator.ok(); ++i) {
      Result<Allocation> a = allocator->Allocate(Request(ContainerId(thread * 1000 + i)));
      if (!a.ok()) errors[thread].push_back(a.status().message());
    }
  };
  std::thread first(worker, 0);
  std::thread second(worker, 1);
  first.join();
  second.join();
  EXPECT_EQ(errors[0], std::vector<std::string>());
  EXPECT_EQ(errors[1], std::vector<std::string>());

  Result<std::unique_ptr<Store>> store = Store::Open(path_);
  ASSERT_TRUE(store.ok()) << store.status().message();
  Result<std::vector<Allocation>> all = (*store)->List();
  ASSERT_TRUE(all.ok()) << all.status().message();
  std::set<uint32_t> ips;
  std::set<uint32_t> endpoint_ids;
  for (const Allocation& a : *all) {
    ips.insert(a.ip);
    endpoint_ids.insert(a.endpoint_id);
    EXPECT_TRUE(range.Contains(a.ip));
    EXPECT_GE(a.ip, Ip("10.244.0.2"));
    EXPECT_LE(a.ip, Ip("10.244.0.254"));
  }
  EXPECT_EQ(all->size(), 2u * kPerThread);
  EXPECT_EQ(ips.size(), 2u * kPerThread);
  EXPECT_EQ(endpoint_ids.size(), 2u * kPerThread);
}

TEST_F(AllocatorFileTest, AllocationsAndCursorSurviveReopen) {
  const Ipv4Cidr range = *Ipv4Cidr::Parse("10.0.0.0/29");
  {
    auto store = std::move(Store::Open(path_)).value();
    Allocator allocator = std::move(Allocator::Create(*store, range)).value();
    ASSERT_TRUE(allocator.Allocate(Request(ContainerId(1))).ok());
    ASSERT_TRUE(allocator.Allocate(Request(ContainerId(2))).ok());
    ASSERT_TRUE(allocator.Release(ContainerId(1), "eth0").ok());
  }
  auto store = std::move(Store::Open(path_)).value();
  Allocator allocator = std::move(Allocator::Create(*store, range)).value();
  Result<Allocation> kept = allocator.Allocate(Request(ContainerId(2)));
  ASSERT_TRUE(kept.ok()) << kept.status().message();
  EXPECT_EQ(FormatIpv4(kept->ip), "10.0.0.3");
  Result<Allocation> next = allocator.Allocate(Request(ContainerId(3)));
  ASSERT_TRUE(next.ok()) << next.status().message();
  EXPECT_EQ(FormatIpv4(next->ip), "10.0.0.4");  // not the freed .2: the cursor persisted
}

}  // namespace
}  // namespace kubedp::ipam
