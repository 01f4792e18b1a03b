#include "control/masquerade.h"

#include <gtest/gtest.h>

namespace kubedp::control {
namespace {

k8s::ClusterState WithConfig(const std::string& config) {
  k8s::ClusterState state;
  k8s::ConfigMap map;
  map.meta.namespace_ = "kube-system";
  map.meta.name = "ip-masq-agent";
  map.data["config"] = config;
  state.config_maps[kMasqConfigMap] = map;
  return state;
}

std::vector<std::string> Texts(const std::vector<Ipv4Cidr>& cidrs) {
  std::vector<std::string> out;
  for (const auto& cidr : cidrs) out.push_back(cidr.ToString());
  return out;
}

TEST(Masquerade, DefaultsWithoutTheConfigMap) {
  auto config = MasqueradeConfigFrom(k8s::ClusterState{});
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->source, "defaults");
  EXPECT_EQ(Texts(NoMasqueradePrefixes(*config)),
            (std::vector<std::string>{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                      "169.254.0.0/16"}));
  EXPECT_EQ(config->resync_interval_ms, 60000);
}

TEST(Masquerade, ReadsYamlAndJsonForms) {
  auto yaml = MasqueradeConfigFrom(
      WithConfig("nonMasqueradeCIDRs:\n  - 10.0.0.0/8\n  - 203.0.113.0/24\nmasqLinkLocal: true\n"
                 "resyncInterval: 1m30s\n"));
  ASSERT_TRUE(yaml.ok()) << yaml.status().message();
  EXPECT_EQ(yaml->source, kMasqConfigMap);
  EXPECT_EQ(Texts(NoMasqueradePrefixes(*yaml)),
            (std::vector<std::string>{"10.0.0.0/8", "203.0.113.0/24"}))
      << "masqLinkLocal: link-local is masqueraded too";
  EXPECT_EQ(yaml->resync_interval_ms, 90000);

  auto json = MasqueradeConfigFrom(WithConfig(
      R"({"nonMasqueradeCIDRs": ["192.0.2.0/24", "fd00::/8"], "masqLinkLocalIPv6": true})"));
  ASSERT_TRUE(json.ok()) << json.status().message();
  EXPECT_EQ(Texts(json->non_masquerade_cidrs), (std::vector<std::string>{"192.0.2.0/24"}))
      << "IPv6 ranges are accepted and not programmed";
}

TEST(Masquerade, FieldsLeftOutKeepTheirDefaultsAndAnEmptyListMasqueradesAll) {
  auto only_resync = MasqueradeConfigFrom(WithConfig("resyncInterval: 10s\n"));
  ASSERT_TRUE(only_resync.ok());
  EXPECT_EQ(only_resync->non_masquerade_cidrs.size(), 3u);
  auto empty = MasqueradeConfigFrom(WithConfig("nonMasqueradeCIDRs: []\n"));
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(Texts(NoMasqueradePrefixes(*empty)), (std::vector<std::string>{"169.254.0.0/16"}));
}

TEST(Masquerade, BadConfigsNameTheFieldAndTheConfigMap) {
  struct Case {
    std::string config;
    std::string message;
  };
  for (const auto& [config, message] : std::vector<Case>{
           {"nonMasqueradeCIDRs: [10.0.0.0/33]",
            "ConfigMap kube-system/ip-masq-agent config: nonMasqueradeCIDRs[0]: "},
           {"nonMasqueradeCIDRs: 10.0.0.0/8", "nonMasqueradeCIDRs must be a list"},
           {"nonMasqueradeCIDR: [10.0.0.0/8]", "unknown field 'nonMasqueradeCIDR'"},
           {"masqLinkLocal: maybe", "masqLinkLocal must be true or false"},
           {"resyncInterval: 60", "resyncInterval: '60': unit '' is not one of ms, s, m, h"},
           {"resyncInterval: 100ms", "resyncInterval must be at least 1s"},
           {"[1, 2", "ConfigMap kube-system/ip-masq-agent config: "},
       }) {
    auto result = MasqueradeConfigFrom(WithConfig(config));
    ASSERT_FALSE(result.ok()) << config;
    EXPECT_NE(result.status().message().find(message), std::string::npos)
        << config << " -> " << result.status().message();
  }
  k8s::ClusterState no_key = WithConfig("");
  no_key.config_maps[kMasqConfigMap].data.clear();
  EXPECT_EQ(MasqueradeConfigFrom(no_key).status().message(),
            "ConfigMap kube-system/ip-masq-agent: data has no key 'config'");
}

TEST(Masquerade, GoDurations) {
  EXPECT_EQ(*ParseGoDuration("60s"), 60000);
  EXPECT_EQ(*ParseGoDuration("1.5s"), 1500);
  EXPECT_EQ(*ParseGoDuration("2h1m"), 7260000);
  EXPECT_EQ(*ParseGoDuration("250ms"), 250);
  EXPECT_FALSE(ParseGoDuration("").ok());
  EXPECT_FALSE(ParseGoDuration("s").ok());
  EXPECT_FALSE(ParseGoDuration("1.2.3s").ok());
  EXPECT_FALSE(ParseGoDuration("5d").ok());
}

}  // namespace
}  // namespace kubedp::control
