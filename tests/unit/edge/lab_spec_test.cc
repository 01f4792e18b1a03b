// Reading a lab file: the Lab section, defaults, and errors that say where.
#include <gtest/gtest.h>

#include "lab/lab.h"

namespace kubedp::lab {
namespace {

const char* kPod = R"(
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop}
spec:
  containers:
    - name: web
      ports: [{containerPort: 8080}, {containerPort: 53, protocol: UDP}]
)";

TEST(LabSpec, ReadsNodesAndAssignsPodsToTheFirstNode) {
  std::string text = std::string(R"(
apiVersion: kubedp.io/v1alpha1
kind: Lab
metadata: {name: trial}
spec:
  nodes: [{name: a, podCIDR: 10.1.0.0/24}, {name: b, podCIDR: 10.1.1.0/24}]
---)") + kPod;
  auto spec = ParseLabFile(text, "lab.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  EXPECT_EQ(spec->name, "trial");
  ASSERT_EQ(spec->nodes.size(), 2u);
  ASSERT_EQ(spec->pods.size(), 1u);
  EXPECT_EQ(spec->pods[0].node, "a");
  ASSERT_EQ(spec->pods[0].ports.size(), 2u);
  EXPECT_EQ(spec->pods[0].ports[1].protocol, "UDP");
  EXPECT_EQ(spec->pod_documents[0]["spec"]["nodeName"], "a");
  EXPECT_EQ(spec->pod_documents[0]["spec"]["containers"][0]["ports"][0]["containerPort"], 8080)
      << "numbers stay numbers";
}

TEST(LabSpec, DefaultsToOneNodeNamedDemo) {
  auto spec = ParseLabFile(kPod, "pods.yaml");
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->name, "demo");
  ASSERT_EQ(spec->nodes.size(), 1u);
  EXPECT_EQ(spec->nodes[0].pod_cidr, "10.244.1.0/24");
}

TEST(LabSpec, BadPodCidrNamesTheField) {
  auto spec = ParseLabFile(R"(
kind: Lab
metadata: {name: x}
spec: {nodes: [{name: a, podCIDR: 10.1.0.5/24}]}
)",
                           "lab.yaml");
  ASSERT_FALSE(spec.ok());
  EXPECT_NE(spec.status().message().find("lab.yaml: document 1: spec.nodes[0].podCIDR"),
            std::string::npos)
      << spec.status().message();
}

TEST(LabSpec, PodOnAnUnknownNodeIsAnError) {
  std::string text = std::string(kPod) + "  nodeName: elsewhere\n";
  auto spec = ParseLabFile(text, "lab.yaml");
  ASSERT_FALSE(spec.ok());
  EXPECT_NE(spec.status().message().find("spec.nodeName 'elsewhere' is not a node of the lab"),
            std::string::npos)
      << spec.status().message();
}

TEST(LabSpec, MalformedPodIsReportedWithItsDocument) {
  auto spec = ParseLabFile(R"(
apiVersion: v1
kind: Pod
metadata: {name: web}
spec: {containers: [{name: c, ports: [{containerPort: http}]}]}
)",
                           "lab.yaml");
  ASSERT_FALSE(spec.ok());
  EXPECT_NE(spec.status().message().find("lab.yaml: document 1"), std::string::npos)
      << spec.status().message();
}

TEST(LabSpec, DuplicatePodIsAnError) {
  std::string text = std::string(kPod) + "---" + kPod;
  auto spec = ParseLabFile(text, "lab.yaml");
  ASSERT_FALSE(spec.ok());
  EXPECT_NE(spec.status().message().find("shop/web twice"), std::string::npos);
}

}  // namespace
}  // namespace kubedp::lab
