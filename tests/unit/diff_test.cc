#include "control/diff.h"

#include <gtest/gtest.h>

#include <string>

namespace kubedp::control {
namespace {

const auto kEqual = [](const std::string& a, const std::string& b) { return a == b; };

TEST(DiffTables, EqualTablesNeedNoWrites) {
  std::map<int, std::string> table{{1, "a"}, {2, "b"}};
  EXPECT_TRUE(DiffTables(table, table, kEqual).Empty());
}

TEST(DiffTables, WritesMissingAndChangedDeletesStale) {
  std::map<int, std::string> desired{{1, "a"}, {2, "new"}, {3, "c"}};
  std::map<int, std::string> actual{{1, "a"}, {2, "old"}, {4, "stale"}};
  auto delta = DiffTables(desired, actual, kEqual);
  EXPECT_EQ(delta.upserts, (std::vector<std::pair<int, std::string>>{{2, "new"}, {3, "c"}}));
  EXPECT_EQ(delta.deletes, (std::vector<int>{4}));
}

TEST(DiffTables, EmptyDesiredDeletesEverything) {
  std::map<int, std::string> actual{{1, "a"}, {2, "b"}};
  auto delta = DiffTables({}, actual, kEqual);
  EXPECT_TRUE(delta.upserts.empty());
  EXPECT_EQ(delta.deletes, (std::vector<int>{1, 2}));
}

}  // namespace
}  // namespace kubedp::control
