#include <gtest/gtest.h>

#include "k8s/objects.h"

namespace kubedp::k8s {
namespace {

using Op = LabelRequirement::Operator;

LabelSelector Expression(std::string key, Op op, std::vector<std::string> values = {}) {
  return LabelSelector{.match_expressions = {{std::move(key), op, std::move(values)}}};
}

TEST(LabelSelector, EmptyMatchesEverything) {
  LabelSelector empty;
  EXPECT_TRUE(empty.Empty());
  EXPECT_TRUE(empty.Matches({}));
  EXPECT_TRUE(empty.Matches({{"app", "web"}}));
}

TEST(LabelSelector, MatchLabelsNeedsEveryPair) {
  LabelSelector s{.match_labels = {{"app", "web"}, {"tier", "front"}}};
  EXPECT_FALSE(s.Empty());
  EXPECT_TRUE(s.Matches({{"app", "web"}, {"tier", "front"}, {"extra", "x"}}));
  EXPECT_FALSE(s.Matches({{"app", "web"}}));
  EXPECT_FALSE(s.Matches({{"app", "web"}, {"tier", "back"}}));
}

TEST(LabelSelector, In) {
  LabelSelector s = Expression("env", Op::kIn, {"prod", "staging"});
  EXPECT_TRUE(s.Matches({{"env", "prod"}}));
  EXPECT_TRUE(s.Matches({{"env", "staging"}}));
  EXPECT_FALSE(s.Matches({{"env", "dev"}}));
  EXPECT_FALSE(s.Matches({}));
}

TEST(LabelSelector, NotInMatchesWhenKeyAbsent) {
  LabelSelector s = Expression("env", Op::kNotIn, {"prod"});
  EXPECT_TRUE(s.Matches({{"env", "dev"}}));
  EXPECT_TRUE(s.Matches({}));
  EXPECT_FALSE(s.Matches({{"env", "prod"}}));
}

TEST(LabelSelector, Exists) {
  LabelSelector s = Expression("env", Op::kExists);
  EXPECT_TRUE(s.Matches({{"env", ""}}));
  EXPECT_FALSE(s.Matches({{"other", "x"}}));
}

TEST(LabelSelector, DoesNotExist) {
  LabelSelector s = Expression("env", Op::kDoesNotExist);
  EXPECT_TRUE(s.Matches({}));
  EXPECT_TRUE(s.Matches({{"other", "x"}}));
  EXPECT_FALSE(s.Matches({{"env", "prod"}}));
}

TEST(LabelSelector, LabelsAndExpressionsAreAnded) {
  LabelSelector s{
      .match_labels = {{"app", "web"}},
      .match_expressions = {{"env", Op::kIn, {"prod"}}, {"canary", Op::kDoesNotExist, {}}}};
  EXPECT_TRUE(s.Matches({{"app", "web"}, {"env", "prod"}}));
  EXPECT_FALSE(s.Matches({{"app", "web"}, {"env", "prod"}, {"canary", "1"}}));
  EXPECT_FALSE(s.Matches({{"app", "db"}, {"env", "prod"}}));
  EXPECT_FALSE(s.Matches({{"app", "web"}}));
}

TEST(ObjectMeta, Key) {
  EXPECT_EQ((ObjectMeta{.name = "web", .namespace_ = "prod"}).Key(), "prod/web");
  EXPECT_EQ((ObjectMeta{.name = "node-1"}).Key(), "node-1");
}

TEST(IntOrString, ToStringAndIsSet) {
  EXPECT_FALSE(IntOrString{}.IsSet());
  EXPECT_EQ((IntOrString{.number = 8080}).ToString(), "8080");
  EXPECT_EQ((IntOrString{.name = "http"}).ToString(), "http");
  EXPECT_TRUE((IntOrString{.name = "http"}).IsSet());
}

TEST(Service, Headless) {
  Service svc;
  EXPECT_FALSE(svc.Headless());
  svc.cluster_ip = "None";
  EXPECT_TRUE(svc.Headless());
}

TEST(Object, KindAndMeta) {
  Object pod = Pod{.meta = {.name = "web", .namespace_ = "default"}};
  EXPECT_EQ(KindOf(pod), "Pod");
  EXPECT_EQ(MetaOf(pod).name, "web");
  EXPECT_TRUE(IsNamespaced(pod));
  Object node = Node{.meta = {.name = "n1"}};
  EXPECT_EQ(KindOf(node), "Node");
  EXPECT_FALSE(IsNamespaced(node));
  EXPECT_EQ(KindOf(EndpointSlice{}), "EndpointSlice");
  EXPECT_EQ(KindOf(NetworkPolicy{}), "NetworkPolicy");
}

TEST(ClusterState, AddKeysByKindAndReplaces) {
  ClusterState state;
  state.Add(Pod{.meta = {.name = "web"}, .node_name = "a"});
  state.Add(Service{.meta = {.name = "web", .namespace_ = "default"}});
  state.Add(Node{.meta = {.name = "n1"}});
  ASSERT_EQ(state.pods.size(), 1u);
  // A pod without a namespace lives in "default".
  EXPECT_EQ(state.pods.at("default/web").meta.namespace_, "default");
  EXPECT_TRUE(state.Contains("Service", "default/web"));
  EXPECT_TRUE(state.Contains("Node", "n1"));
  EXPECT_FALSE(state.Contains("Pod", "n1"));
  EXPECT_EQ(state.Size(), 3u);

  state.Add(Pod{.meta = {.name = "web", .namespace_ = "default"}, .node_name = "b"});
  EXPECT_EQ(state.pods.size(), 1u);
  EXPECT_EQ(state.pods.at("default/web").node_name, "b");
}

TEST(ClusterState, Equality) {
  ClusterState a, b;
  EXPECT_EQ(a, b);
  a.Add(ConfigMap{.meta = {.name = "cfg"}, .data = {{"k", "v"}}});
  EXPECT_NE(a, b);
  b.Add(ConfigMap{.meta = {.name = "cfg", .namespace_ = "default"}, .data = {{"k", "v"}}});
  EXPECT_EQ(a, b);
}

}  // namespace
}  // namespace kubedp::k8s
