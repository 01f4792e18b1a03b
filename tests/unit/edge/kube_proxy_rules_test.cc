// The benchmark's kube-proxy baselines must program what kube-proxy would:
// these check the shapes the comparison depends on.
#include "bench/kube_proxy_rules.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sstream>
#include <string>
#include <vector>

namespace kubedp::bench {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

const MeasuredService kMeasured{.vip = "10.96.0.50", .backend = "10.200.2.2"};

TEST(IptablesRestoreInput, OneDispatchRulePerServiceWithTheMeasuredOneInTheMiddle) {
  std::vector<std::string> dispatch;
  for (const auto& line :
       Lines(IptablesRestoreInput({.services = 4, .endpoints_per_service = 3}, kMeasured))) {
    if (line.rfind("-A KUBE-SERVICES ", 0) == 0) dispatch.push_back(line);
  }
  ASSERT_EQ(dispatch.size(), 5u);
  EXPECT_NE(dispatch[2].find("-d 10.96.0.50/32"), std::string::npos) << dispatch[2];
  EXPECT_NE(dispatch[0].find("-d 10.100.0.0/32"), std::string::npos) << dispatch[0];
}

TEST(IptablesRestoreInput, EndpointsChosenUniformlyByStatisticRandom) {
  std::string text = IptablesRestoreInput({.services = 1, .endpoints_per_service = 4}, kMeasured);
  // kube-proxy's cascade: 1/4, 1/3, 1/2, then the last endpoint unconditionally.
  EXPECT_NE(text.find("--probability 0.25000000000"), std::string::npos);
  EXPECT_NE(text.find("--probability 0.33333333333"), std::string::npos);
  EXPECT_NE(text.find("--probability 0.50000000000"), std::string::npos);
  EXPECT_NE(text.find("-j DNAT --to-destination 172.16.0.3:8080"), std::string::npos);
  EXPECT_NE(text.find("-j DNAT --to-destination 10.200.2.2:8080"), std::string::npos);
  EXPECT_EQ(text.substr(text.size() - 7), "COMMIT\n");
}

TEST(NftablesInput, EveryServiceInTheVerdictMap) {
  std::string text = NftablesInput({.services = 3, .endpoints_per_service = 2}, kMeasured);
  EXPECT_NE(text.find("10.96.0.50 . tcp . 80 : goto service-"), std::string::npos);
  for (const char* vip : {"10.100.0.0 .", "10.100.0.1 .", "10.100.0.2 ."}) {
    EXPECT_NE(text.find(vip), std::string::npos) << vip;
  }
  EXPECT_NE(text.find("dnat to 10.200.2.2:8080"), std::string::npos);
  EXPECT_NE(text.find("ip daddr . meta l4proto . th dport vmap @service-ips"), std::string::npos);
  EXPECT_EQ(text.rfind("add table ip kube-proxy\ndelete table ip kube-proxy\n", 0), 0u);
}

TEST(KubedpManifest, ServicesSlicesAndPolicies) {
  auto list = nlohmann::json::parse(
      KubedpManifest({.services = 2, .endpoints_per_service = 3, .policies = 4}));
  int services = 0, slices = 0, policies = 0, endpoints = 0;
  for (const auto& item : list["items"]) {
    std::string kind = item["kind"];
    services += kind == "Service";
    policies += kind == "NetworkPolicy";
    if (kind == "EndpointSlice") {
      ++slices;
      endpoints += static_cast<int>(item["endpoints"].size());
    }
  }
  EXPECT_EQ(services, 2);
  EXPECT_EQ(slices, 2);
  EXPECT_EQ(endpoints, 6);
  EXPECT_EQ(policies, 4);
}

}  // namespace
}  // namespace kubedp::bench
