// EndpointSlice derivation against what the EndpointSlice controller does
// (pkg/controller/endpointslice: podToEndpoint, getEndpointPorts, FindPort).
// Objects are manifests through the decoder, so API defaulting is the real one.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "common/cluster_state.h"
#include "control/services.h"
#include "k8s/decode.h"

namespace kubedp::control {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

k8s::ClusterState Load(std::string_view yaml) {
  return testing::LoadState(yaml);
}

struct PodSpec {
  std::string name;
  std::string labels = "{app: web}";
  std::string ip;
  std::string node = "node-a";
  bool ready = true;
  std::string phase = "Running";
  std::string ports = "[]";  // containerPorts, as YAML
  std::string ns = "default";
};

std::string PodYaml(const PodSpec& p) {
  std::string yaml = "---\napiVersion: v1\nkind: Pod\nmetadata: {name: " + p.name +
                     ", namespace: " + p.ns + ", labels: " + p.labels +
                     "}\nspec:\n  nodeName: " + p.node + "\n  containers:\n  - name: c\n" +
                     "    ports: " + p.ports + "\nstatus:\n  phase: " + p.phase + "\n";
  if (!p.ip.empty()) yaml += "  podIP: " + p.ip + "\n";
  yaml += std::string("  conditions: [{type: Ready, status: \"") + (p.ready ? "True" : "False") +
          "\"}]\n";
  return yaml;
}

constexpr std::string_view kWebService = R"(
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  clusterIP: 10.96.0.10
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
)";

const k8s::EndpointSlice* FindSlice(const std::vector<k8s::EndpointSlice>& slices,
                                    const std::string& name) {
  for (const auto& slice : slices) {
    if (slice.meta.name == name) return &slice;
  }
  return nullptr;
}

std::vector<std::string> TargetNames(const k8s::EndpointSlice& slice) {
  std::vector<std::string> names;
  for (const auto& endpoint : slice.endpoints) names.push_back(endpoint.target_name);
  return names;
}

TEST(DeriveEndpointSlices, SelectedLivePodsWithIpsBecomeEndpointsWithTheirReadiness) {
  k8s::ClusterState state =
      Load(std::string(kWebService) + PodYaml({.name = "a", .ip = "10.244.1.2"}) +
           PodYaml({.name = "b", .ip = "10.244.2.3", .node = "node-b", .ready = false}) +
           PodYaml({.name = "other", .labels = "{app: db}", .ip = "10.244.1.4"}) +
           PodYaml({.name = "pending", .ip = ""}) +
           PodYaml({.name = "done", .ip = "10.244.1.5", .phase = "Succeeded"}) +
           PodYaml({.name = "failed", .ip = "10.244.1.6", .phase = "Failed"}) +
           PodYaml({.name = "elsewhere", .ip = "10.244.1.7", .ns = "prod"}));

  std::vector<k8s::EndpointSlice> slices = DeriveEndpointSlices(state);
  ASSERT_THAT(slices, SizeIs(1));
  const k8s::EndpointSlice& slice = slices[0];
  EXPECT_EQ(slice.meta.Key(), "default/web-kubedp");
  EXPECT_EQ(slice.meta.labels.at("kubernetes.io/service-name"), "web");
  EXPECT_EQ(slice.meta.labels.at("endpointslice.kubernetes.io/managed-by"), "kubedp");
  EXPECT_FALSE(slice.meta.labels.contains("service.kubernetes.io/headless"));
  EXPECT_EQ(slice.service_name, "web");
  EXPECT_EQ(slice.address_type, "IPv4");
  EXPECT_THAT(slice.ports,
              ElementsAre(k8s::EndpointPort{.name = "", .protocol = "TCP", .port = 8080}));
  ASSERT_THAT(TargetNames(slice), ElementsAre("a", "b"));

  const k8s::Endpoint& a = slice.endpoints[0];
  EXPECT_THAT(a.addresses, ElementsAre("10.244.1.2"));
  EXPECT_EQ(a.conditions,
            (k8s::EndpointConditions{.ready = true, .serving = true, .terminating = false}));
  EXPECT_EQ(a.node_name, "node-a");
  EXPECT_EQ(a.target_namespace, "default");
  const k8s::Endpoint& b = slice.endpoints[1];
  EXPECT_EQ(b.conditions,
            (k8s::EndpointConditions{.ready = false, .serving = false, .terminating = false}));
  EXPECT_EQ(b.node_name, "node-b");
}

TEST(DeriveEndpointSlices, ServiceSelectingNothingKeepsAnEmptyPlaceholder) {
  k8s::ClusterState state = Load(kWebService);
  std::vector<k8s::EndpointSlice> slices = DeriveEndpointSlices(state);
  ASSERT_THAT(slices, SizeIs(1));
  EXPECT_EQ(slices[0].meta.name, "web-kubedp");
  EXPECT_THAT(slices[0].endpoints, IsEmpty());
  EXPECT_THAT(slices[0].ports, IsEmpty());
}

TEST(DeriveEndpointSlices, NamedTargetPortResolvesPerPodIntoOneSlicePerPortList) {
  k8s::ClusterState state = Load(
      R"(
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  clusterIP: 10.96.0.10
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
)" + PodYaml({.name = "a", .ip = "10.244.1.2", .ports = "[{name: http, containerPort: 8080}]"}) +
      PodYaml({.name = "b", .ip = "10.244.1.3", .ports = "[{name: http, containerPort: 9090}]"}) +
      PodYaml({.name = "c", .ip = "10.244.1.4", .ports = "[{name: http, containerPort: 8080}]"}));

  std::vector<k8s::EndpointSlice> slices = DeriveEndpointSlices(state);
  ASSERT_THAT(slices, SizeIs(2));
  const k8s::EndpointSlice* first = FindSlice(slices, "web-kubedp-1");
  const k8s::EndpointSlice* second = FindSlice(slices, "web-kubedp-2");
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  EXPECT_THAT(first->ports, ElementsAre(k8s::EndpointPort{"http", "TCP", 8080}));
  EXPECT_THAT(TargetNames(*first), ElementsAre("a", "c"));
  EXPECT_THAT(second->ports, ElementsAre(k8s::EndpointPort{"http", "TCP", 9090}));
  EXPECT_THAT(TargetNames(*second), ElementsAre("b"));

  // And the datapath sees each pod on its own port.
  ServiceTable table = CompileServices(WithDerivedEndpointSlices(state));
  ASSERT_THAT(table.frontends, SizeIs(1));
  std::vector<std::pair<std::string, uint16_t>> backends;
  for (const Backend& b : table.frontends[0].backends) backends.emplace_back(b.pod, b.port);
  EXPECT_THAT(backends, ElementsAre(std::pair<std::string, uint16_t>{"default/a", 8080},
                                    std::pair<std::string, uint16_t>{"default/b", 9090},
                                    std::pair<std::string, uint16_t>{"default/c", 8080}));
}

// FindPort matches name and protocol; like getEndpointPorts, a port that does
// not resolve is left out of that pod's list, and the pod still serves the
// ports it does have.
TEST(DeriveEndpointSlices, UnresolvedNamedPortIsLeftOutOfThatPodsPorts) {
  k8s::ClusterState state = Load(R"(
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  clusterIP: 10.96.0.10
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: http}
  - {name: metrics, port: 9100}
)" + PodYaml({.name = "a", .ip = "10.244.1.2", .ports = "[{name: http, containerPort: 8080}]"}) +
                                 PodYaml({.name = "udp-only",
                                          .ip = "10.244.1.3",
                                          .ports = "[{name: http, containerPort: 8080, "
                                                   "protocol: UDP}]"}));

  std::vector<k8s::EndpointSlice> slices = DeriveEndpointSlices(state);
  ASSERT_THAT(slices, SizeIs(2));
  EXPECT_THAT(slices[0].ports, ElementsAre(k8s::EndpointPort{"http", "TCP", 8080},
                                           k8s::EndpointPort{"metrics", "TCP", 9100}));
  EXPECT_THAT(TargetNames(slices[0]), ElementsAre("a"));
  EXPECT_THAT(slices[1].ports, ElementsAre(k8s::EndpointPort{"metrics", "TCP", 9100}));
  EXPECT_THAT(TargetNames(slices[1]), ElementsAre("udp-only"));

  ServiceTable table = CompileServices(WithDerivedEndpointSlices(state));
  ASSERT_THAT(table.frontends, SizeIs(2));
  EXPECT_EQ(table.frontends[0].port_name, "http");
  ASSERT_THAT(table.frontends[0].backends, SizeIs(1));
  EXPECT_EQ(table.frontends[0].backends[0].pod, "default/a");
  EXPECT_EQ(table.frontends[1].port_name, "metrics");
  EXPECT_THAT(table.frontends[1].backends, SizeIs(2));
}

TEST(WithDerivedEndpointSlices, GivenSlicesTakePrecedence) {
  k8s::ClusterState state = Load(std::string(kWebService) + R"(
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: default}
spec:
  clusterIP: 10.96.0.11
  selector: {app: web}
  ports: [{port: 81, targetPort: 8081}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-given
  namespace: default
  labels: {kubernetes.io/service-name: web}
addressType: IPv4
endpoints: [{addresses: [10.0.0.99]}]
ports: [{port: 7777}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: api-elsewhere
  namespace: prod
  labels: {kubernetes.io/service-name: api}
addressType: IPv4
endpoints: [{addresses: [10.0.0.98]}]
ports: [{port: 7777}]
)" + PodYaml({.name = "a", .ip = "10.244.1.2"}));

  k8s::ClusterState out = WithDerivedEndpointSlices(state);
  // web has its own slice: nothing derived. api's only slice is in another
  // namespace, so it is derived.
  std::vector<std::string> keys;
  for (const auto& [key, slice] : out.endpoint_slices) keys.push_back(key);
  EXPECT_THAT(keys, ElementsAre("default/api-kubedp", "default/web-given", "prod/api-elsewhere"));
  EXPECT_EQ(out.endpoint_slices.at("default/web-given"),
            state.endpoint_slices.at("default/web-given"));
  EXPECT_EQ(out.services, state.services);
  EXPECT_EQ(out.pods, state.pods);

  ServiceTable table = CompileServices(out);
  ASSERT_THAT(table.frontends, SizeIs(2));
  EXPECT_EQ(table.frontends[0].service, "default/api");
  ASSERT_THAT(table.frontends[0].backends, SizeIs(1));
  EXPECT_EQ(table.frontends[0].backends[0].port, 8081);
  EXPECT_EQ(table.frontends[1].service, "default/web");
  ASSERT_THAT(table.frontends[1].backends, SizeIs(1));
  EXPECT_EQ(table.frontends[1].backends[0].port, 7777);
  EXPECT_EQ(table.frontends[1].backends[0].ip, 0x0a000063u);
}

TEST(DeriveEndpointSlices, HeadlessServiceWithSelectorGetsSlicesButNoFrontends) {
  k8s::ClusterState state = Load(R"(
apiVersion: v1
kind: Service
metadata: {name: db, namespace: default}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{port: 5432}]
)" + PodYaml({.name = "db-0", .labels = "{app: db}", .ip = "10.244.1.2"}));

  std::vector<k8s::EndpointSlice> slices = DeriveEndpointSlices(state);
  ASSERT_THAT(slices, SizeIs(1));
  EXPECT_EQ(slices[0].meta.name, "db-kubedp");
  EXPECT_EQ(slices[0].meta.labels.at("service.kubernetes.io/headless"), "");
  EXPECT_THAT(TargetNames(slices[0]), ElementsAre("db-0"));

  // kube-proxy's ShouldSkipService: a headless Service is not proxied.
  ServiceTable table = CompileServices(WithDerivedEndpointSlices(state));
  EXPECT_THAT(table.frontends, IsEmpty());
  EXPECT_THAT(table.errors, IsEmpty());
}

TEST(DeriveEndpointSlices, ServiceWithoutSelectorUsesItsManualSlices) {
  k8s::ClusterState state = Load(R"(
apiVersion: v1
kind: Service
metadata: {name: external-db, namespace: default}
spec:
  clusterIP: 10.96.0.20
  ports: [{name: pg, port: 5432}]
---
apiVersion: v1
kind: Service
metadata: {name: alias, namespace: default}
spec:
  type: ExternalName
  externalName: db.example.com
  selector: {app: db}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: external-db-1
  namespace: default
  labels: {kubernetes.io/service-name: external-db}
addressType: IPv4
endpoints: [{addresses: [192.168.10.5]}]
ports: [{name: pg, port: 5432}]
)" + PodYaml({.name = "db-0", .labels = "{app: db}", .ip = "10.244.1.2"}));

  // No selector (and ExternalName): the controller derives nothing.
  EXPECT_THAT(DeriveEndpointSlices(state), IsEmpty());
  k8s::ClusterState out = WithDerivedEndpointSlices(state);
  EXPECT_EQ(out, state);

  ServiceTable table = CompileServices(out);
  ASSERT_THAT(table.frontends, SizeIs(1));
  EXPECT_EQ(table.frontends[0].service, "default/external-db");
  EXPECT_THAT(table.frontends[0].backends, ElementsAre(Backend{.ip = 0xc0a80a05,
                                                               .port = 5432,
                                                               .ready = true,
                                                               .serving = true,
                                                               .terminating = false,
                                                               .node_name = "",
                                                               .pod = ""}));
}

}  // namespace
}  // namespace kubedp::control
