#include <yaml-cpp/yaml.h>

#include <cerrno>

#include <gtest/gtest.h>

#include "k8s/decode.h"

namespace kubedp::k8s {
namespace {

// Decodes text that must hold exactly one object of kind T.
template <typename T>
T DecodeOne(std::string_view text) {
  Result<DecodeOutput> out = DecodeManifests(text, "test.yaml");
  if (!out.ok()) {
    ADD_FAILURE() << out.status().message();
    return T{};
  }
  if (out->objects.size() != 1 || !std::holds_alternative<T>(out->objects[0])) {
    ADD_FAILURE() << "expected exactly one object of the requested kind";
    return T{};
  }
  return std::get<T>(out->objects[0]);
}

TEST(DecodePod, FullYaml) {
  Pod pod = DecodeOne<Pod>(R"(
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
  uid: 0b4f7c1e-1234
  labels: {app: web}
  annotations: {note: "hi"}
spec:
  nodeName: node-1
  hostNetwork: false
  containers:
  - name: a
    ports:
    - {name: http, containerPort: 8080}
    - {containerPort: 53, protocol: UDP}
  - name: b
    ports:
    - {name: metrics, containerPort: 9090, protocol: TCP}
status:
  phase: Running
  podIP: 10.0.0.5
  podIPs: [{ip: 10.0.0.5}, {ip: "fd00::5"}]
  conditions:
  - {type: PodScheduled, status: "True"}
  - {type: Ready, status: "True"}
)");
  EXPECT_EQ(pod.meta.name, "web");
  EXPECT_EQ(pod.meta.namespace_, "shop");
  EXPECT_EQ(pod.meta.labels, (Labels{{"app", "web"}}));
  EXPECT_EQ(pod.meta.annotations.at("note"), "hi");
  EXPECT_EQ(pod.node_name, "node-1");
  EXPECT_FALSE(pod.host_network);
  ASSERT_EQ(pod.ports.size(), 3u);
  EXPECT_EQ(pod.ports[0], (ContainerPort{"http", 8080, "TCP"}));
  EXPECT_EQ(pod.ports[1], (ContainerPort{"", 53, "UDP"}));
  EXPECT_EQ(pod.ports[2], (ContainerPort{"metrics", 9090, "TCP"}));
  EXPECT_EQ(pod.phase, "Running");
  EXPECT_EQ(pod.pod_ip, "10.0.0.5");
  EXPECT_EQ(pod.pod_ips, (std::vector<std::string>{"10.0.0.5", "fd00::5"}));
  EXPECT_TRUE(pod.ready);
}

TEST(DecodePod, NumericUidIsRejected) {
  EXPECT_FALSE(
      DecodeManifests("apiVersion: v1\nkind: Pod\nmetadata: {name: a, uid: 1234}\n", "x").ok());
}

TEST(DecodePod, DefaultsAndPodIpFill) {
  Pod pod = DecodeOne<Pod>(R"(
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  hostNetwork: true
  containers: [{name: a, ports: [{containerPort: 80}]}]
status:
  podIP: 10.0.0.7
  conditions: [{type: Ready, status: "False"}]
)");
  EXPECT_EQ(pod.meta.namespace_, "default");
  EXPECT_TRUE(pod.host_network);
  EXPECT_EQ(pod.ports.at(0).protocol, "TCP");
  EXPECT_EQ(pod.pod_ips, (std::vector<std::string>{"10.0.0.7"}));
  EXPECT_FALSE(pod.ready);
}

TEST(DecodePod, FromJson) {
  Pod pod = DecodeOne<Pod>(R"({
	"apiVersion": "v1",
	"kind": "Pod",
	"metadata": {"name": "web", "labels": {"app": "web"}},
	"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 80, "name": "http"}]}]},
	"status": {"podIPs": [{"ip": "10.0.0.9"}]}
})");
  EXPECT_EQ(pod.meta.Key(), "default/web");
  EXPECT_EQ(pod.ports.at(0), (ContainerPort{"http", 80, "TCP"}));
  EXPECT_EQ(pod.pod_ip, "10.0.0.9");
}

TEST(DecodeService, FullYaml) {
  Service svc = DecodeOne<Service>(R"(
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  type: LoadBalancer
  clusterIP: 10.96.0.10
  clusterIPs: [10.96.0.10, "fd00::10"]
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: http, nodePort: 30080, appProtocol: http}
  - {name: dns, port: 53, protocol: UDP, targetPort: 5353}
  externalIPs: [192.0.2.1]
  sessionAffinity: ClientIP
  sessionAffinityConfig: {clientIP: {timeoutSeconds: 600}}
  externalTrafficPolicy: Local
  internalTrafficPolicy: Local
status:
  loadBalancer:
    ingress: [{ip: 203.0.113.7}, {hostname: lb.example.com}]
)");
  EXPECT_EQ(svc.type, "LoadBalancer");
  EXPECT_EQ(svc.cluster_ip, "10.96.0.10");
  EXPECT_EQ(svc.cluster_ips, (std::vector<std::string>{"10.96.0.10", "fd00::10"}));
  EXPECT_EQ(svc.selector, (Labels{{"app", "web"}}));
  ASSERT_EQ(svc.ports.size(), 2u);
  EXPECT_EQ(svc.ports[0], (ServicePort{"http", "TCP", 80, {.name = "http"}, 30080, "http"}));
  EXPECT_EQ(svc.ports[1], (ServicePort{"dns", "UDP", 53, {.number = 5353}, 0, ""}));
  EXPECT_EQ(svc.external_ips, (std::vector<std::string>{"192.0.2.1"}));
  EXPECT_EQ(svc.load_balancer_ips, (std::vector<std::string>{"203.0.113.7"}));
  EXPECT_EQ(svc.session_affinity, "ClientIP");
  EXPECT_EQ(svc.affinity_timeout_seconds, 600);
  EXPECT_EQ(svc.external_traffic_policy, "Local");
  EXPECT_EQ(svc.internal_traffic_policy, "Local");
  EXPECT_FALSE(svc.Headless());
}

TEST(DecodeService, Defaults) {
  Service svc = DecodeOne<Service>(R"(
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  clusterIP: None
  ports: [{port: 80}]
)");
  EXPECT_EQ(svc.meta.namespace_, "default");
  EXPECT_EQ(svc.type, "ClusterIP");
  EXPECT_TRUE(svc.Headless());
  EXPECT_EQ(svc.cluster_ips, (std::vector<std::string>{"None"}));
  EXPECT_EQ(svc.ports.at(0).protocol, "TCP");
  EXPECT_EQ(svc.ports.at(0).target_port, (IntOrString{.number = 80}));
  EXPECT_EQ(svc.ports.at(0).node_port, 0);
  EXPECT_EQ(svc.selector, std::nullopt);
  EXPECT_EQ(svc.session_affinity, "None");
  EXPECT_EQ(svc.affinity_timeout_seconds, 10800);
  EXPECT_EQ(svc.external_traffic_policy, "Cluster");
  EXPECT_EQ(svc.internal_traffic_policy, "Cluster");
}

TEST(DecodeService, EmptySelectorMeansNoSelector) {
  Service svc = DecodeOne<Service>(
      "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {selector: {}}\n");
  EXPECT_EQ(svc.selector, std::nullopt);
}

TEST(DecodeService, ClusterIPsFillClusterIP) {
  Service svc = DecodeOne<Service>(
      "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {clusterIPs: [10.96.0.3]}\n");
  EXPECT_EQ(svc.cluster_ip, "10.96.0.3");
}

TEST(DecodeService, FromJson) {
  Service svc = DecodeOne<Service>(R"({"apiVersion": "v1", "kind": "Service",
    "metadata": {"name": "web"},
    "spec": {"selector": {"app": "web"}, "ports": [{"port": 443, "targetPort": "https"}]}})");
  EXPECT_EQ(svc.ports.at(0).target_port, (IntOrString{.name = "https"}));
  EXPECT_EQ(svc.selector, (Labels{{"app", "web"}}));
}

TEST(DecodeEndpointSlice, FullYaml) {
  EndpointSlice slice = DecodeOne<EndpointSlice>(R"(
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-abc
  labels: {kubernetes.io/service-name: web}
addressType: IPv4
endpoints:
- addresses: [10.0.0.5]
  conditions: {ready: true, serving: true, terminating: false}
  nodeName: node-1
  targetRef: {kind: Pod, namespace: default, name: web-1}
- addresses: [10.0.0.6]
ports:
- {name: http, port: 8080}
- {name: dns, protocol: UDP}
)");
  EXPECT_EQ(slice.meta.Key(), "default/web-abc");
  EXPECT_EQ(slice.service_name, "web");
  EXPECT_EQ(slice.address_type, "IPv4");
  ASSERT_EQ(slice.endpoints.size(), 2u);
  const Endpoint& first = slice.endpoints[0];
  EXPECT_EQ(first.addresses, (std::vector<std::string>{"10.0.0.5"}));
  EXPECT_EQ(first.conditions, (EndpointConditions{true, true, false}));
  EXPECT_EQ(first.node_name, "node-1");
  EXPECT_EQ(first.target_namespace, "default");
  EXPECT_EQ(first.target_name, "web-1");
  EXPECT_EQ(slice.endpoints[1].conditions, EndpointConditions{});
  ASSERT_EQ(slice.ports.size(), 2u);
  EXPECT_EQ(slice.ports[0], (EndpointPort{"http", "TCP", 8080}));
  EXPECT_EQ(slice.ports[1], (EndpointPort{"dns", "UDP", std::nullopt}));
}

TEST(DecodeEndpointSlice, FromJson) {
  EndpointSlice slice = DecodeOne<EndpointSlice>(R"({
    "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
    "metadata": {"name": "s", "namespace": "ns"}, "addressType": "IPv6",
    "endpoints": [{"addresses": ["fd00::1"], "conditions": {"ready": false}}],
    "ports": [{"port": 53, "protocol": "UDP"}]})");
  EXPECT_EQ(slice.address_type, "IPv6");
  EXPECT_EQ(slice.endpoints.at(0).conditions.ready, false);
  EXPECT_EQ(slice.ports.at(0), (EndpointPort{"", "UDP", 53}));
}

TEST(DecodeNetworkPolicy, FullYaml) {
  NetworkPolicy np = DecodeOne<NetworkPolicy>(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: shop}
spec:
  podSelector:
    matchLabels: {app: db}
    matchExpressions:
    - {key: tier, operator: NotIn, values: [test]}
  policyTypes: [Ingress, Egress]
  ingress:
  - from:
    - podSelector: {matchLabels: {app: web}}
      namespaceSelector: {}
    - ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}
    ports:
    - {port: 5432}
    - {protocol: UDP, port: 1000, endPort: 2000}
    - {port: metrics}
  egress:
  - {}
)");
  EXPECT_EQ(np.pod_selector.match_labels, (Labels{{"app", "db"}}));
  ASSERT_EQ(np.pod_selector.match_expressions.size(), 1u);
  EXPECT_EQ(np.pod_selector.match_expressions[0],
            (LabelRequirement{"tier", LabelRequirement::Operator::kNotIn, {"test"}}));
  EXPECT_TRUE(np.affects_ingress);
  EXPECT_TRUE(np.affects_egress);
  ASSERT_EQ(np.ingress.size(), 1u);
  const PolicyRule& rule = np.ingress[0];
  ASSERT_EQ(rule.peers.size(), 2u);
  EXPECT_EQ(rule.peers[0].pod_selector, (LabelSelector{.match_labels = {{"app", "web"}}}));
  // namespaceSelector: {} is set and selects every namespace.
  ASSERT_TRUE(rule.peers[0].namespace_selector.has_value());
  EXPECT_TRUE(rule.peers[0].namespace_selector->Empty());
  EXPECT_EQ(rule.peers[0].ip_block, std::nullopt);
  EXPECT_EQ(rule.peers[1].ip_block, (IpBlock{"10.0.0.0/8", {"10.1.0.0/16"}}));
  EXPECT_EQ(rule.peers[1].pod_selector, std::nullopt);
  ASSERT_EQ(rule.ports.size(), 3u);
  EXPECT_EQ(rule.ports[0], (PolicyPort{"TCP", IntOrString{.number = 5432}, std::nullopt}));
  EXPECT_EQ(rule.ports[1], (PolicyPort{"UDP", IntOrString{.number = 1000}, 2000}));
  EXPECT_EQ(rule.ports[2], (PolicyPort{"TCP", IntOrString{.name = "metrics"}, std::nullopt}));
  ASSERT_EQ(np.egress.size(), 1u);
  EXPECT_TRUE(np.egress[0].peers.empty());
  EXPECT_TRUE(np.egress[0].ports.empty());
}

TEST(DecodeNetworkPolicy, FromJson) {
  NetworkPolicy np = DecodeOne<NetworkPolicy>(R"({"apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy", "metadata": {"name": "p"},
    "spec": {"podSelector": {}, "egress": [{"to": [{"ipBlock": {"cidr": "fd00::/64"}}],
                                            "ports": [{"protocol": "SCTP"}]}]}})");
  EXPECT_TRUE(np.pod_selector.Empty());
  EXPECT_EQ(np.egress.at(0).peers.at(0).ip_block->cidr, "fd00::/64");
  EXPECT_EQ(np.egress.at(0).ports.at(0), (PolicyPort{"SCTP", std::nullopt, std::nullopt}));
}

NetworkPolicy PolicyWithSpec(std::string_view spec) {
  return DecodeOne<NetworkPolicy>(
      "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec: " +
      std::string(spec) + "\n");
}

TEST(DecodeNetworkPolicy, PolicyTypesDefaulting) {
  // No policyTypes and no egress rules: ingress only, even if egress: [].
  NetworkPolicy ingress_only = PolicyWithSpec("{podSelector: {}, egress: []}");
  EXPECT_TRUE(ingress_only.affects_ingress);
  EXPECT_FALSE(ingress_only.affects_egress);
  // Egress rules present: both.
  NetworkPolicy both = PolicyWithSpec("{podSelector: {}, egress: [{}]}");
  EXPECT_TRUE(both.affects_ingress);
  EXPECT_TRUE(both.affects_egress);
  // An empty policyTypes list is the same as none.
  NetworkPolicy empty_types = PolicyWithSpec("{podSelector: {}, policyTypes: []}");
  EXPECT_TRUE(empty_types.affects_ingress);
  EXPECT_FALSE(empty_types.affects_egress);
  // Explicit types win, even against the rules present.
  NetworkPolicy egress_only = PolicyWithSpec("{podSelector: {}, policyTypes: [Egress]}");
  EXPECT_FALSE(egress_only.affects_ingress);
  EXPECT_TRUE(egress_only.affects_egress);
}

TEST(DecodeNode, YamlMergesPodCidrs) {
  Node node = DecodeOne<Node>(R"(
apiVersion: v1
kind: Node
metadata: {name: node-1, namespace: ignored, labels: {zone: a}}
spec:
  podCIDR: 10.244.1.0/24
  podCIDRs: [10.244.1.0/24, "fd00:1::/64"]
status:
  addresses:
  - {type: InternalIP, address: 192.168.1.10}
  - {type: Hostname, address: node-1}
)");
  EXPECT_EQ(node.meta.Key(), "node-1");  // cluster-scoped: no namespace
  EXPECT_EQ(node.pod_cidrs, (std::vector<std::string>{"10.244.1.0/24", "fd00:1::/64"}));
  using Address = std::pair<std::string, std::string>;
  EXPECT_EQ(node.addresses,
            (std::vector<Address>{{"InternalIP", "192.168.1.10"}, {"Hostname", "node-1"}}));
}

TEST(DecodeNode, FromJson) {
  Node node = DecodeOne<Node>(
      R"({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"},
          "spec": {"podCIDRs": ["10.244.2.0/24"]}})");
  EXPECT_EQ(node.pod_cidrs, (std::vector<std::string>{"10.244.2.0/24"}));
}

TEST(DecodeNamespaceAndConfigMap, YamlAndJson) {
  Namespace ns = DecodeOne<Namespace>("apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n");
  EXPECT_EQ(ns.meta.Key(), "shop");
  Namespace json_ns = DecodeOne<Namespace>(
      R"({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x", "labels": {"a": "b"}}})");
  EXPECT_EQ(json_ns.meta.labels.at("a"), "b");

  ConfigMap cm = DecodeOne<ConfigMap>(R"(
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, namespace: kube-system}
data:
  mode: "strict"
  script: |
    line one
    line two
)");
  EXPECT_EQ(cm.meta.Key(), "kube-system/cfg");
  EXPECT_EQ(cm.data.at("mode"), "strict");
  EXPECT_EQ(cm.data.at("script"), "line one\nline two\n");
  ConfigMap json_cm = DecodeOne<ConfigMap>(
      R"({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}})");
  EXPECT_EQ(json_cm.data.at("k"), "v");
}

TEST(DecodeManifests, MultiDocumentSkipsEmptyAndUnmodeled) {
  Result<DecodeOutput> out = DecodeManifests(R"(---
# only a comment
---
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: kn}
---
apiVersion: v1
kind: Pod
metadata: {name: web}
---
)",
                                             "multi.yaml");
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_EQ(out->objects.size(), 2u);
  EXPECT_EQ(KindOf(out->objects[0]), "Namespace");
  EXPECT_EQ(KindOf(out->objects[1]), "Pod");
  EXPECT_EQ(out->skipped, (std::vector<std::string>{"Deployment shop/web", "Service kn"}));
}

TEST(DecodeManifests, EmptyTextIsNoObjects) {
  Result<DecodeOutput> out = DecodeManifests("", "empty.yaml");
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(out->objects.empty());
}

TEST(DecodeManifests, List) {
  Result<DecodeOutput> out = DecodeManifests(R"(
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: a}
- apiVersion: apps/v1
  kind: DaemonSet
  metadata: {name: ds}
- apiVersion: v1
  kind: Pod
  metadata: {name: b, namespace: x}
)",
                                             "list.yaml");
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_EQ(out->objects.size(), 2u);
  EXPECT_EQ(MetaOf(out->objects[0]).Key(), "default/a");
  EXPECT_EQ(MetaOf(out->objects[1]).Key(), "x/b");
  EXPECT_EQ(out->skipped, (std::vector<std::string>{"DaemonSet ds"}));
}

TEST(DecodeManifests, EmptyListIsNotSkipped) {
  Result<DecodeOutput> out = DecodeManifests("apiVersion: v1\nkind: List\n", "list.yaml");
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_TRUE(out->objects.empty());
  EXPECT_TRUE(out->skipped.empty());
}

TEST(DecodeManifests, TypedListItemsInheritKind) {
  Result<DecodeOutput> out = DecodeManifests(
      R"({"apiVersion": "v1", "kind": "PodList", "items": [{"metadata": {"name": "p1"}},
          {"metadata": {"name": "p2"}}]})",
      "pods.json");
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_EQ(out->objects.size(), 2u);
  EXPECT_EQ(KindOf(out->objects[1]), "Pod");
  EXPECT_EQ(MetaOf(out->objects[1]).Key(), "default/p2");
}

TEST(DecodeManifests, ErrorInsideListNamesTheItem) {
  Result<DecodeOutput> out = DecodeManifests(R"(
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: Pod, metadata: {name: ok}}
- {apiVersion: v1, kind: Pod, metadata: {name: bad}, spec: {hostNetwork: "yes"}}
)",
                                             "list.yaml");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().message(),
            "list.yaml: document 1, items[1] (Pod default/bad): spec.hostNetwork: "
            "expected a boolean, got \"yes\"");
}

TEST(DecodeManifests, NestedListIsAnError) {
  Result<DecodeOutput> out = DecodeManifests(
      "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: List, items: []}\n",
      "list.yaml");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().message(),
            "list.yaml: document 1, items[0]: lists inside lists are not supported");
}

TEST(DecodeObject, DecodesAParsedNode) {
  auto node =
      nlohmann::json::parse(R"({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}})");
  Result<Object> object = DecodeObject(node, "lab.yaml: document 3");
  ASSERT_TRUE(object.ok()) << object.status().message();
  EXPECT_EQ(KindOf(*object), "Node");
}

TEST(DecodeObject, UnmodeledKindIsNotSupported) {
  auto node = nlohmann::json::parse(R"({"apiVersion": "kubedp.io/v1", "kind": "Lab"})");
  Result<Object> object = DecodeObject(node, "lab.yaml: document 1");
  ASSERT_FALSE(object.ok());
  EXPECT_EQ(object.status().code(), ENOTSUP);
  EXPECT_EQ(object.status().message(), "lab.yaml: document 1 (Lab): kind is not modeled");
  EXPECT_TRUE(IsModeledKind("networking.k8s.io/v1", "NetworkPolicy"));
  EXPECT_FALSE(IsModeledKind("serving.knative.dev/v1", "Service"));
}

TEST(DecodeManifests, UnknownFieldsAreIgnored) {
  Pod pod = DecodeOne<Pod>(R"(
apiVersion: v1
kind: Pod
metadata: {name: web, generation: 3, managedFields: [{manager: kubectl}]}
spec:
  restartPolicy: Always
  containers: [{name: a, image: nginx, resources: {limits: {cpu: 1}}}]
  someFutureField: {x: 1}
)");
  EXPECT_EQ(pod.meta.name, "web");
}

// JSON files (what the API server serves, and the fast path for a large
// state) are parsed as JSON, with the same types and messages as YAML.
TEST(DecodeManifestsJson, ListOfObjects) {
  Result<DecodeOutput> out = DecodeManifests(
      R"({"apiVersion": "v1", "kind": "List", "items": [
           {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
            "spec": {"clusterIP": "10.96.0.10", "ports": [{"port": 80, "targetPort": "http"}]}},
           {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}]})",
      "state.json");
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_EQ(out->objects.size(), 2u);
  const auto& service = std::get<Service>(out->objects[0]);
  EXPECT_EQ(service.meta.Key(), "default/web");
  ASSERT_EQ(service.ports.size(), 1u);
  EXPECT_EQ(service.ports[0].port, 80);
  EXPECT_EQ(service.ports[0].target_port.name, "http");
}

TEST(DecodeManifestsJson, QuotedNumberIsNotAPort) {
  Result<DecodeOutput> out = DecodeManifests(
      R"({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
          "spec": {"ports": [{"port": "80"}]}})",
      "web.json");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().message(),
            "web.json: document 1 (Service default/web): spec.ports[0].port: expected an integer, "
            "got \"80\"");
}

TEST(DecodeManifestsJson, DuplicateKeyIsAnError) {
  Result<DecodeOutput> out = DecodeManifests(
      R"({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
          "data": {"a": "1", "a": "2"}})",
      "c.json");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().message(), "c.json: duplicate key \"a\"");
}

TEST(DecodeManifestsJson, SyntaxErrorNamesLineAndColumn) {
  Result<DecodeOutput> out = DecodeManifests("{\"kind\": \"Pod\",\n  \"metadata\": }", "p.json");
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("p.json: parse error at line 2, column 15"),
            std::string::npos)
      << out.status().message();
}

TEST(DecodeManifestsJson, BlankFileHasNoObjects) {
  Result<DecodeOutput> out = DecodeManifests(" \n", "empty.json");
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_TRUE(out->objects.empty());
}

TEST(DecodeManifestsJson, OutOfRangeIntegerIsNamed) {
  Result<DecodeOutput> out = DecodeManifests(
      R"({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
          "spec": {"ports": [{"port": 4294967376}]}})",
      "web.json");
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("expected a 32-bit integer, got 4294967376"),
            std::string::npos)
      << out.status().message();
}

}  // namespace
}  // namespace kubedp::k8s
