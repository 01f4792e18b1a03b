#include "control/policy_logging.h"

#include <gtest/gtest.h>

#include "common/cluster_state.h"

namespace kubedp::control {
namespace {

k8s::ClusterState State(const std::string& yaml) {
  return testing::LoadState(yaml);
}

const char* kConfig = R"(
apiVersion: v1
kind: ConfigMap
metadata: {name: kubedp-network-logging, namespace: kube-system}
data:
  config: |
    cluster:
      allow: {log: true, delegate: true}
      deny: {log: true, delegate: false}
    rateLimit: 20
---
apiVersion: v1
kind: Namespace
metadata: {name: quiet, annotations: {policy.network.gke.io/enable-deny-logging: "true"}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: logged, namespace: quiet, annotations: {policy.network.gke.io/enable-logging: "true"}}
spec: {podSelector: {}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: silent, namespace: quiet}
spec: {podSelector: {}}
)";

TEST(LoggingConfig, OffWithoutTheConfigMap) {
  auto config = LoggingConfigFrom(State(""));
  ASSERT_TRUE(config.ok());
  EXPECT_FALSE(config->Enabled());
  EXPECT_EQ(config->rate_limit, 500);
  EXPECT_EQ(config->deny_aggregation_seconds, 5);
}

TEST(LoggingConfig, ReadsTheClusterSectionAndLimits) {
  auto config = LoggingConfigFrom(State(kConfig));
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_TRUE(config->allow_log && config->allow_delegate);
  EXPECT_TRUE(config->deny_log && !config->deny_delegate);
  EXPECT_EQ(config->rate_limit, 20);
}

TEST(LoggingConfig, MalformedFieldIsNamed) {
  auto config = LoggingConfigFrom(State(R"(
apiVersion: v1
kind: ConfigMap
metadata: {name: kubedp-network-logging, namespace: kube-system}
data: {config: "cluster: {allow: {log: maybe}}"}
)"));
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("cluster.allow.log: expected true or false"),
            std::string::npos)
      << config.status().message();
}

TEST(Delegation, AllowNeedsAnAnnotatedPolicyWhenDelegated) {
  k8s::ClusterState state = State(kConfig);
  LoggingConfig config = *LoggingConfigFrom(state);
  EXPECT_TRUE(ShouldLogAllow(config, state, {"quiet/silent", "quiet/logged"}));
  EXPECT_FALSE(ShouldLogAllow(config, state, {"quiet/silent"}));
  config.allow_delegate = false;
  EXPECT_TRUE(ShouldLogAllow(config, state, {"quiet/silent"}));
}

TEST(Delegation, DenyNeedsAnAnnotatedNamespaceWhenDelegated) {
  k8s::ClusterState state = State(kConfig);
  LoggingConfig config = *LoggingConfigFrom(state);
  EXPECT_TRUE(ShouldLogDeny(config, state, "other")) << "not delegated: every deny";
  config.deny_delegate = true;
  EXPECT_TRUE(ShouldLogDeny(config, state, "quiet"));
  EXPECT_FALSE(ShouldLogDeny(config, state, "other"));
  config.deny_log = false;
  EXPECT_FALSE(ShouldLogDeny(config, state, "quiet"));
}

TEST(RateLimiter, HoldsTheRateAndCountsOverflow) {
  RateLimiter limiter(10);
  int passed = 0;
  for (int i = 0; i < 100; ++i) passed += limiter.Allow(0);  // a burst at one instant
  EXPECT_EQ(passed, 10);
  EXPECT_EQ(limiter.overflow(), 90u);
  passed = 0;
  // Right after the burst, 100/s offered for a second: about the rate gets through.
  for (int ms = 10; ms <= 1000; ms += 10) passed += limiter.Allow(ms);
  EXPECT_LE(passed, 10);
  EXPECT_GE(passed, 9);
}

TEST(DenyAggregator, OneRecordPerWindowWithTheCount) {
  DenyAggregator aggregator(5);
  Json record{{"disposition", "deny"}};
  for (int i = 0; i < 7; ++i) aggregator.Add(record, "a->b:80/TCP", 1000 + i * 100);
  aggregator.Add(record, "a->c:80/TCP", 2000);
  EXPECT_TRUE(aggregator.Flush(5999).empty()) << "the window is still open";
  auto records = aggregator.Flush(6000);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0]["count"], 7);
  records = aggregator.Flush(7000);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0]["count"], 1);
}

}  // namespace
}  // namespace kubedp::control
