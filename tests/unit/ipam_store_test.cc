#include "ipam/store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/ip.h"

namespace kubedp::ipam {
namespace {

NewAllocation Request(std::string container_id, int64_t created_at = 100) {
  return NewAllocation{std::move(container_id), "eth0",    "default", "web",
                       "/var/run/netns/x",      created_at};
}

// A picker that hands out a fixed address and records what the store showed it.
struct FixedPicker {
  uint32_t ip;
  int calls = 0;
  size_t seen_count = 0;
  std::optional<uint32_t> seen_last;

  AddressPicker Get() {
    return [this](const std::vector<Allocation>& current, std::optional<uint32_t> last) {
      ++calls;
      seen_count = current.size();
      seen_last = last;
      return Result<uint32_t>(ip);
    };
  }
};

Allocation MustInsert(Store& store, const NewAllocation& request, uint32_t ip) {
  FixedPicker picker{ip};
  Result<Allocation> a = store.Insert(request, picker.Get());
  EXPECT_TRUE(a.ok()) << a.status().message();
  return a.ok() ? *a : Allocation{};
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir_template[] = "/tmp/kubedp-ipam-store-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
    path_ = dir_ + "/ipam.db";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<Store> OpenFile() {
    Result<std::unique_ptr<Store>> store = Store::Open(path_);
    EXPECT_TRUE(store.ok()) << store.status().message();
    return store.ok() ? std::move(*store) : nullptr;
  }

  std::string dir_;
  std::string path_;
};

std::unique_ptr<Store> OpenMemory() {
  Result<std::unique_ptr<Store>> store = Store::Open(":memory:");
  EXPECT_TRUE(store.ok()) << store.status().message();
  return store.ok() ? std::move(*store) : nullptr;
}

TEST(Store, InsertThenFind) {
  auto store = OpenMemory();
  ASSERT_NE(store, nullptr);
  Allocation a = MustInsert(*store, Request("c1", 42), 0x0a000002);
  EXPECT_EQ(a.ip, 0x0a000002u);
  EXPECT_EQ(a.created_at, 42);
  EXPECT_NE(a.endpoint_id, 0u);

  Result<std::optional<Allocation>> found = store->Find("c1", "eth0");
  ASSERT_TRUE(found.ok()) << found.status().message();
  ASSERT_TRUE(found->has_value());
  const Allocation& f = **found;
  EXPECT_EQ(f.container_id, "c1");
  EXPECT_EQ(f.ifname, "eth0");
  EXPECT_EQ(f.ip, 0x0a000002u);
  EXPECT_EQ(f.pod_namespace, "default");
  EXPECT_EQ(f.pod_name, "web");
  EXPECT_EQ(f.netns, "/var/run/netns/x");
  EXPECT_EQ(f.created_at, 42);
  EXPECT_EQ(f.endpoint_id, a.endpoint_id);
  EXPECT_EQ(f.host_ifname, "");
  EXPECT_EQ(f.ifindex, 0);

  Result<std::optional<Allocation>> missing = store->Find("c1", "eth1");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
}

TEST(Store, InsertOfExistingKeyReturnsItWithoutPicking) {
  auto store = OpenMemory();
  ASSERT_NE(store, nullptr);
  Allocation first = MustInsert(*store, Request("c1"), 0x0a000002);
  FixedPicker picker{0x0a000009};
  Result<Allocation> again = store->Insert(Request("c1"), picker.Get());
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(picker.calls, 0);
  EXPECT_EQ(again->ip, first.ip);
  EXPECT_EQ(again->endpoint_id, first.endpoint_id);
}

TEST(Store, PickerSeesCurrentAllocationsAndLastAddress) {
  auto store = OpenMemory();
  ASSERT_NE(store, nullptr);
  FixedPicker first{0x0a000005};
  ASSERT_TRUE(store->Insert(Request("c1"), first.Get()).ok());
  EXPECT_EQ(first.seen_count, 0u);
  EXPECT_EQ(first.seen_last, std::nullopt);

  FixedPicker second{0x0a000003};
  ASSERT_TRUE(store->Insert(Request("c2"), second.Get()).ok());
  EXPECT_EQ(second.seen_count, 1u);
  EXPECT_EQ(second.seen_last, 0x0a000005u);
}

TEST(Store, PickerErrorIsReturnedAndNothingIsInserted) {
  auto store = OpenMemory();
  ASSERT_NE(store, nullptr);
  Result<Allocation> a = store->Insert(Request("c1"), [](const auto&, auto) {
    return Result<uint32_t>(Status::Error(ENOSPC, "range full"));
  });
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), ENOSPC);
  EXPECT_EQ(a.status().message(), "range full");
  EXPECT_TRUE(store->List()->empty());
}

TEST(Store, DuplicateAddressIsRejectedByTheUniqueConstraint) {
  auto store = OpenMemory();
  ASSERT_NE(store, nullptr);
  MustInsert(*store, Request("c1"), 0x0a000002);
  FixedPicker picker{0x0a000002};
  Result<Allocation> dup = store->Insert(Request("c2"), picker.Get());
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.status().code(), EEXIST);
  EXPECT_EQ(dup.status().message(),
            "IPAM store :memory:: allocating 10.0.0.2 to container c2 interface eth0: UNIQUE "
            "constraint failed: allocations.ip");
  EXPECT_EQ(store->List()->size(), 1u);
}

TEST(Store, ListIsOrderedByCreationThenAddress) {
  auto store = OpenMemory();
  ASSERT_NE(store, nullptr);
  MustInsert(*store, Request("late", 300), 0x0a000002);
  MustInsert(*store, Request("early-high", 100), 0x0a000009);
  MustInsert(*store, Request("early-low", 100), 0x0a000003);
  Result<std::vector<Allocation>> all = store->List();
  ASSERT_TRUE(all.ok()) << all.status().message();
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].container_id, "early-low");
  EXPECT_EQ((*all)[1].container_id, "early-high");
  EXPECT_EQ((*all)[2].container_id, "late");
}

TEST(Store, ReleaseIsIdempotent) {
  auto store = OpenMemory();
  ASSERT_NE(store, nullptr);
  MustInsert(*store, Request("c1"), 0x0a000002);
  EXPECT_TRUE(store->Release("c1", "eth0").ok());
  EXPECT_FALSE(store->Find("c1", "eth0")->has_value());
  EXPECT_TRUE(store->Release("c1", "eth0").ok());
  EXPECT_TRUE(store->Release("never-existed", "eth0").ok());
}

TEST(Store, EndpointIdsAreNeverReused) {
  auto store = OpenMemory();
  ASSERT_NE(store, nullptr);
  Allocation a = MustInsert(*store, Request("c1"), 0x0a000002);
  // Releasing the newest row is the case where a plain rowid would be reused.
  ASSERT_TRUE(store->Release("c1", "eth0").ok());
  Allocation b = MustInsert(*store, Request("c2"), 0x0a000002);
  EXPECT_GT(b.endpoint_id, a.endpoint_id);
}

TEST(Store, UpdateEndpointFillsAttachmentFields) {
  auto store = OpenMemory();
  ASSERT_NE(store, nullptr);
  MustInsert(*store, Request("c1"), 0x0a000002);
  ASSERT_TRUE(
      store->UpdateEndpoint("c1", "eth0", "kdp1a2b3c", 17, "02:00:00:00:00:01", "02:00:00:00:00:02")
          .ok());
  Allocation a = **store->Find("c1", "eth0");
  EXPECT_EQ(a.host_ifname, "kdp1a2b3c");
  EXPECT_EQ(a.ifindex, 17);
  EXPECT_EQ(a.pod_mac, "02:00:00:00:00:01");
  EXPECT_EQ(a.host_mac, "02:00:00:00:00:02");
}

TEST(Store, UpdateEndpointOfMissingAllocationIsNotFound) {
  auto store = OpenMemory();
  ASSERT_NE(store, nullptr);
  Status status = store->UpdateEndpoint("c9", "eth0", "h", 1, "", "");
  EXPECT_EQ(status.code(), ENOENT);
  EXPECT_EQ(status.message(),
            "IPAM store :memory:: updating endpoint of container c9 interface eth0: no such "
            "allocation");
}

TEST_F(StoreTest, DataSurvivesReopen) {
  Allocation a;
  {
    auto store = OpenFile();
    ASSERT_NE(store, nullptr);
    a = MustInsert(*store, Request("c1", 7), 0x0a000004);
    ASSERT_TRUE(
        store->UpdateEndpoint("c1", "eth0", "veth1", 9, "02:00:00:00:00:01", "02:00:00:00:00:02")
            .ok());
  }
  auto store = OpenFile();
  ASSERT_NE(store, nullptr);
  Result<std::vector<Allocation>> all = store->List();
  ASSERT_TRUE(all.ok()) << all.status().message();
  ASSERT_EQ(all->size(), 1u);
  const Allocation& b = (*all)[0];
  EXPECT_EQ(b.container_id, "c1");
  EXPECT_EQ(b.ip, 0x0a000004u);
  EXPECT_EQ(b.created_at, 7);
  EXPECT_EQ(b.endpoint_id, a.endpoint_id);
  EXPECT_EQ(b.host_ifname, "veth1");
  EXPECT_EQ(b.ifindex, 9);
  EXPECT_EQ(b.host_mac, "02:00:00:00:00:02");

  // The round-robin cursor is persisted too.
  FixedPicker picker{0x0a000005};
  ASSERT_TRUE(store->Insert(Request("c2"), picker.Get()).ok());
  EXPECT_EQ(picker.seen_last, 0x0a000004u);
}

// Reads one PRAGMA through a separate raw connection, as another process would.
std::string RawPragma(const std::string& path, const char* pragma) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  std::string value;
  if (sqlite3_prepare_v2(db, pragma, -1, &stmt, nullptr) == SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW) {
    value = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  }
  sqlite3_finalize(stmt);
  sqlite3_close_v2(db);
  return value;
}

TEST_F(StoreTest, FileIsInWalModeWithASchemaVersion) {
  ASSERT_NE(OpenFile(), nullptr);
  EXPECT_EQ(RawPragma(path_, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(RawPragma(path_, "PRAGMA user_version"), "1");
}

TEST_F(StoreTest, RefusesASchemaFromTheFuture) {
  ASSERT_NE(OpenFile(), nullptr);
  EXPECT_EQ(RawPragma(path_, "PRAGMA user_version=99"), "");
  Result<std::unique_ptr<Store>> store = Store::Open(path_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), ENOTSUP);
  EXPECT_EQ(store.status().message(),
            "IPAM store " + path_ +
                ": schema version 99 is newer than this kubedp supports (1); was the file "
                "written by a newer kubedp?");
}

TEST_F(StoreTest, OpenInMissingDirectoryFailsWithTheOsReason) {
  const std::string path = dir_ + "/missing/ipam.db";
  Result<std::unique_ptr<Store>> store = Store::Open(path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), ENOENT);
  EXPECT_EQ(store.status().message(),
            "IPAM store " + path + ": opening: unable to open database file");
}

}  // namespace
}  // namespace kubedp::ipam
