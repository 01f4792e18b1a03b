#include "control/maglev.h"

#include <gtest/gtest.h>

#include <map>

namespace kubedp::control {
namespace {

constexpr uint32_t kSize = 1021;

std::vector<std::string> Backends(int count) {
  std::vector<std::string> names;
  for (int i = 0; i < count; ++i) names.push_back("10.244.1." + std::to_string(10 + i) + ":8080");
  return names;
}

TEST(Maglev, FillsEverySlotWithNearlyEqualShares) {
  for (int count : {1, 2, 3, 7, 10}) {
    std::vector<uint32_t> table = MaglevTable(Backends(count), kSize);
    ASSERT_EQ(table.size(), kSize);
    std::map<uint32_t, int> share;
    for (uint32_t slot : table) {
      ASSERT_LT(slot, static_cast<uint32_t>(count));
      ++share[slot];
    }
    ASSERT_EQ(share.size(), static_cast<size_t>(count));
    for (const auto& [backend, slots] : share) {
      // The round-robin fill gives every backend floor or ceil of size/count.
      EXPECT_LE(std::abs(slots - static_cast<int>(kSize) / count), 1) << count << " backends";
    }
  }
}

TEST(Maglev, IsTheSameOnEveryNode) {
  EXPECT_EQ(MaglevTable(Backends(5), kSize), MaglevTable(Backends(5), kSize));
}

TEST(Maglev, RemovingABackendMovesFewSlotsOfTheOthers) {
  std::vector<std::string> before = Backends(10);
  std::vector<std::string> after(before.begin(), before.end() - 1);  // the last one leaves
  std::vector<uint32_t> old_table = MaglevTable(before, kSize);
  std::vector<uint32_t> new_table = MaglevTable(after, kSize);
  int moved = 0;
  for (uint32_t i = 0; i < kSize; ++i) {
    if (old_table[i] != 9 && old_table[i] != new_table[i]) ++moved;
  }
  // The leaving backend's tenth must move; of the rest, Maglev moves only a few percent.
  EXPECT_LT(moved, static_cast<int>(kSize) * 6 / 100)
      << moved << " slots of staying backends moved";
}

TEST(Maglev, NoBackendsNoTable) {
  EXPECT_TRUE(MaglevTable({}, kSize).empty());
}

}  // namespace
}  // namespace kubedp::control
