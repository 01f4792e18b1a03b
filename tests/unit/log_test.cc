#include "common/log.h"

#include <gtest/gtest.h>

namespace kubedp::log {
namespace {

TEST(LogFormat, QuotesValuesThatNeedIt) {
  EXPECT_EQ(Format(Level::kWarn, "agent", "file rejected",
                   {{"path", "/etc/x y.yaml"}, {"reason", "bad \"kind\""}, {"count", "3"}}),
            R"(level=warn component=agent msg="file rejected" path="/etc/x y.yaml" )"
            R"(reason="bad \"kind\"" count=3)");
}

TEST(LogFormat, EmptyValueIsQuoted) {
  EXPECT_EQ(Format(Level::kInfo, "cni", "x", {{"k", ""}}),
            R"(level=info component=cni msg=x k="")");
}

}  // namespace
}  // namespace kubedp::log
