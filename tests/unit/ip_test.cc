#include "common/ip.h"

#include <gtest/gtest.h>

namespace kubedp {
namespace {

std::string Ipv4Error(std::string_view text) {
  Result<uint32_t> ip = ParseIpv4(text);
  EXPECT_FALSE(ip.ok()) << text;
  EXPECT_EQ(ip.status().code(), EINVAL) << text;
  return ip.status().message();
}

std::string CidrError(std::string_view text) {
  Result<Ipv4Cidr> cidr = Ipv4Cidr::Parse(text);
  EXPECT_FALSE(cidr.ok()) << text;
  EXPECT_EQ(cidr.status().code(), EINVAL) << text;
  return cidr.status().message();
}

std::string MacError(std::string_view text) {
  Result<MacAddress> mac = ParseMac(text);
  EXPECT_FALSE(mac.ok()) << text;
  EXPECT_EQ(mac.status().code(), EINVAL) << text;
  return mac.status().message();
}

TEST(ParseIpv4, ReturnsHostByteOrder) {
  Result<uint32_t> ip = ParseIpv4("10.244.1.2");
  ASSERT_TRUE(ip.ok()) << ip.status().message();
  EXPECT_EQ(*ip, 0x0af40102u);
}

TEST(ParseIpv4, AcceptsExtremes) {
  EXPECT_EQ(*ParseIpv4("0.0.0.0"), 0u);
  EXPECT_EQ(*ParseIpv4("255.255.255.255"), 0xffffffffu);
}

TEST(ParseIpv4, RejectsWrongOctetCount) {
  EXPECT_EQ(Ipv4Error("1.2.3"),
            R"(invalid IPv4 address "1.2.3": expected 4 dot-separated octets, e.g. 10.244.0.1)");
  EXPECT_EQ(
      Ipv4Error("1.2.3.4.5"),
      R"(invalid IPv4 address "1.2.3.4.5": expected 4 dot-separated octets, e.g. 10.244.0.1)");
}

TEST(ParseIpv4, RejectsBadOctets) {
  EXPECT_EQ(Ipv4Error("1.2.3.256"),
            R"(invalid IPv4 address "1.2.3.256": octet 4 "256" is out of range 0-255)");
  EXPECT_EQ(Ipv4Error("1.2.3.99999999999999"),
            R"(invalid IPv4 address "1.2.3.99999999999999": octet 4 "99999999999999" is out of )"
            R"(range 0-255)");
  EXPECT_EQ(Ipv4Error("1.x.3.4"),
            R"(invalid IPv4 address "1.x.3.4": octet 2 "x" is not a decimal number)");
  EXPECT_EQ(Ipv4Error("1.2.3.-4"),
            R"(invalid IPv4 address "1.2.3.-4": octet 4 "-4" is not a decimal number)");
  EXPECT_EQ(Ipv4Error(" 1.2.3.4"),
            R"(invalid IPv4 address " 1.2.3.4": octet 1 " 1" is not a decimal number)");
  EXPECT_EQ(Ipv4Error("1..3.4"), R"(invalid IPv4 address "1..3.4": octet 2 is empty)");
  EXPECT_EQ(Ipv4Error("1.2.3."), R"(invalid IPv4 address "1.2.3.": octet 4 is empty)");
  EXPECT_EQ(Ipv4Error(""),
            R"(invalid IPv4 address "": expected 4 dot-separated octets, e.g. 10.244.0.1)");
}

TEST(ParseIpv4, RejectsLeadingZeroBecauseItCouldMeanOctal) {
  EXPECT_EQ(Ipv4Error("010.0.0.1"),
            R"(invalid IPv4 address "010.0.0.1": octet 1 "010" has a leading zero )"
            R"((ambiguous: octal or decimal?))");
  EXPECT_EQ(*ParseIpv4("10.0.0.0"), 0x0a000000u);  // a lone zero is fine
}

TEST(FormatIpv4, RoundTrips) {
  for (const char* text : {"0.0.0.0", "10.244.1.2", "192.168.255.1", "255.255.255.255"}) {
    EXPECT_EQ(FormatIpv4(*ParseIpv4(text)), text);
  }
}

TEST(Ipv4Cidr, ParsesAndDescribesARange) {
  Result<Ipv4Cidr> cidr = Ipv4Cidr::Parse("10.244.1.0/24");
  ASSERT_TRUE(cidr.ok()) << cidr.status().message();
  EXPECT_EQ(cidr->network, 0x0af40100u);
  EXPECT_EQ(cidr->prefix_len, 24);
  EXPECT_EQ(cidr->Mask(), 0xffffff00u);
  EXPECT_EQ(FormatIpv4(cidr->Broadcast()), "10.244.1.255");
  EXPECT_EQ(cidr->Size(), 256u);
  EXPECT_EQ(cidr->ToString(), "10.244.1.0/24");
  EXPECT_TRUE(cidr->Contains(*ParseIpv4("10.244.1.0")));
  EXPECT_TRUE(cidr->Contains(*ParseIpv4("10.244.1.255")));
  EXPECT_FALSE(cidr->Contains(*ParseIpv4("10.244.2.0")));
  EXPECT_FALSE(cidr->Contains(*ParseIpv4("10.244.0.255")));
}

TEST(Ipv4Cidr, HandlesSlashZeroAndSlashThirtyTwo) {
  Ipv4Cidr all = *Ipv4Cidr::Parse("0.0.0.0/0");
  EXPECT_EQ(all.Mask(), 0u);
  EXPECT_EQ(all.Size(), uint64_t{1} << 32);
  EXPECT_EQ(all.Broadcast(), 0xffffffffu);
  EXPECT_TRUE(all.Contains(0x01020304u));

  Ipv4Cidr one = *Ipv4Cidr::Parse("10.0.0.7/32");
  EXPECT_EQ(one.Size(), 1u);
  EXPECT_EQ(one.Broadcast(), one.network);
  EXPECT_TRUE(one.Contains(one.network));
  EXPECT_FALSE(one.Contains(one.network + 1));
}

TEST(Ipv4Cidr, RejectsHostBitsAndSuggestsTheNetwork) {
  EXPECT_EQ(CidrError("10.0.0.5/24"),
            R"(invalid CIDR "10.0.0.5/24": host bits set; did you mean 10.0.0.0/24?)");
  EXPECT_EQ(CidrError("10.244.1.0/16"),
            R"(invalid CIDR "10.244.1.0/16": host bits set; did you mean 10.244.0.0/16?)");
}

TEST(Ipv4Cidr, RejectsBadPrefix) {
  EXPECT_EQ(CidrError("10.0.0.0/33"),
            R"(invalid CIDR "10.0.0.0/33": prefix length "33" is out of range 0-32)");
  EXPECT_EQ(CidrError("10.0.0.0/"), R"(invalid CIDR "10.0.0.0/": prefix length is empty)");
  EXPECT_EQ(CidrError("10.0.0.0/2x"),
            R"(invalid CIDR "10.0.0.0/2x": prefix length "2x" is not a decimal number)");
  EXPECT_EQ(CidrError("10.0.0.0/08"),
            R"(invalid CIDR "10.0.0.0/08": prefix length "08" has a leading zero )"
            R"((ambiguous: octal or decimal?))");
  EXPECT_EQ(CidrError("10.0.0.0"),
            R"(invalid CIDR "10.0.0.0": expected address/prefix length, e.g. 10.244.0.0/16)");
}

TEST(Ipv4Cidr, RejectsBadAddress) {
  EXPECT_EQ(CidrError("10.0.300.0/24"),
            R"(invalid CIDR "10.0.300.0/24": octet 3 "300" is out of range 0-255)");
  EXPECT_EQ(CidrError("10.0.0/24"),
            R"(invalid CIDR "10.0.0/24": expected 4 dot-separated octets, e.g. 10.244.0.1)");
}

TEST(Mac, ParsesEitherCaseAndFormatsLowercase) {
  Result<MacAddress> mac = ParseMac("02:42:AC:11:0a:Ff");
  ASSERT_TRUE(mac.ok()) << mac.status().message();
  EXPECT_EQ(*mac, (MacAddress{0x02, 0x42, 0xac, 0x11, 0x0a, 0xff}));
  EXPECT_EQ(FormatMac(*mac), "02:42:ac:11:0a:ff");
  EXPECT_EQ(FormatMac(MacAddress{}), "00:00:00:00:00:00");
}

TEST(Mac, RejectsMalformed) {
  const std::string expected_tail =
      R"(": expected 6 colon-separated hex bytes, e.g. 02:42:ac:11:00:02)";
  for (const char* text : {"", "02:42:ac:11:00", "02:42:ac:11:00:02:", "02-42-ac-11-00-02",
                           "02:42:ac:11:00:0g", "2:42:ac:11:00:002", "02:42:ac:11:00:02 "}) {
    EXPECT_EQ(MacError(text), "invalid MAC address \"" + std::string(text) + expected_tail);
  }
}

}  // namespace
}  // namespace kubedp
