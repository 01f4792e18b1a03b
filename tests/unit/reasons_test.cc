#include "common/reasons.h"

#include <gtest/gtest.h>

namespace kubedp {
namespace {

TEST(Reasons, LabelsComeFromTheRegistry) {
  EXPECT_EQ(ReasonLabel(KDP_FORWARDED), "forwarded");
  EXPECT_EQ(ReasonLabel(KDP_DROP_UNKNOWN_DEST), "unknown-destination");
  EXPECT_EQ(ReasonLabel(200), "reason-200");
}

TEST(Reasons, DropsStartAt128) {
  EXPECT_FALSE(IsDrop(KDP_TO_STACK));
  EXPECT_TRUE(IsDrop(KDP_DROP_MALFORMED));
  EXPECT_TRUE(IsKnownReason(KDP_DROP_SPOOFED_SOURCE));
  EXPECT_FALSE(IsKnownReason(77));
}

}  // namespace
}  // namespace kubedp
