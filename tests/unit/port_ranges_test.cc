#include "control/port_ranges.h"

#include <gtest/gtest.h>

namespace kubedp::control {
namespace {

TEST(PortRange, ParsesFlagAndSysctlForms) {
  EXPECT_EQ(*ParsePortRange("30000-32767"), (PortRange{30000, 32767}));
  EXPECT_EQ(*ParsePortRange("32768\t60999\n"), (PortRange{32768, 60999}));
  EXPECT_EQ(*ParsePortRange("8080"), (PortRange{8080, 8080}));
}

TEST(PortRange, RejectsWithTheInput) {
  auto reversed = ParsePortRange("32767-30000");
  ASSERT_FALSE(reversed.ok());
  EXPECT_EQ(reversed.status().message(), "port range \"32767-30000\": end below start");
  auto big = ParsePortRange("1-70000");
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().message(), "port range \"1-70000\": \"70000\" is not a port number");
}

TEST(PortRange, Overlap) {
  EXPECT_FALSE(Overlap({30000, 32767}, {32768, 60999}).has_value()) << "Linux's default is clear";
  EXPECT_EQ(*Overlap({30000, 32767}, {1024, 65535}), (PortRange{30000, 32767}));
  EXPECT_EQ(*Overlap({30000, 32767}, {32000, 40000}), (PortRange{32000, 32767}));
}

TEST(PortRange, AddReservedRange) {
  EXPECT_EQ(AddReservedRange("", {30000, 32767}), "30000-32767");
  EXPECT_EQ(AddReservedRange("8080\n", {30000, 32767}), "8080,30000-32767");
  EXPECT_EQ(AddReservedRange("29000-33000", {30000, 32767}), "29000-33000") << "already covered";
}

}  // namespace
}  // namespace kubedp::control
