// Every decode error must say file, document, object, field and problem, so
// these tests pin the whole message.
#include <gtest/gtest.h>

#include "k8s/decode.h"

namespace kubedp::k8s {
namespace {

std::string ErrorOf(std::string_view text, std::string_view origin = "test.yaml") {
  Result<DecodeOutput> out = DecodeManifests(text, origin);
  if (out.ok()) return "<decoded without error>";
  EXPECT_EQ(out.status().code(), EINVAL);
  return out.status().message();
}

std::string PolicyError(std::string_view ports) {
  return ErrorOf(
      "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\n"
      "spec:\n  ingress:\n  - ports: " +
      std::string(ports) + "\n");
}

std::string IpBlockError(std::string_view block) {
  return ErrorOf(
      "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\n"
      "spec:\n  egress:\n  - to: [{ipBlock: " +
      std::string(block) + "}]\n");
}

TEST(DecodeErrors, StringWhereIntegerIsNeeded) {
  EXPECT_EQ(ErrorOf(R"(apiVersion: v1
kind: Namespace
metadata: {name: x}
---
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: a
    ports:
    - containerPort: 80
    - containerPort: http
)",
                    "pods.yaml"),
            "pods.yaml: document 2 (Pod default/web): spec.containers[0].ports[1].containerPort: "
            "expected an integer, got \"http\"");
}

TEST(DecodeErrors, QuotedNumberIsNotAnInteger) {
  EXPECT_EQ(ErrorOf("apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: n}\n"
                    "spec: {ports: [{port: \"80\"}]}\n"),
            "test.yaml: document 1 (Service n/s): spec.ports[0].port: "
            "expected an integer, got \"80\"");
}

TEST(DecodeErrors, SyntaxErrorGivesLineAndColumn) {
  EXPECT_EQ(ErrorOf("apiVersion: v1\nkind: Pod\nmetadata: {name: [web\n", "bad.yaml"),
            "bad.yaml: line 4, column 1: end of sequence flow not found");
}

TEST(DecodeErrors, MissingKindApiVersionAndName) {
  EXPECT_EQ(ErrorOf("apiVersion: v1\nmetadata: {name: x}\n"),
            "test.yaml: document 1: kind: required field is missing");
  EXPECT_EQ(ErrorOf("kind: Pod\nmetadata: {name: x}\n"),
            "test.yaml: document 1 (Pod default/x): apiVersion: required field is missing");
  EXPECT_EQ(ErrorOf("apiVersion: v1\nkind: Pod\nmetadata: {labels: {a: b}}\n"),
            "test.yaml: document 1 (Pod): metadata.name: required field is missing");
  EXPECT_EQ(ErrorOf("apiVersion: v1\nkind: Pod\n"),
            "test.yaml: document 1 (Pod): metadata.name: required field is missing");
}

TEST(DecodeErrors, DocumentMustBeAMapping) {
  EXPECT_EQ(ErrorOf("- a\n- b\n"), "test.yaml: document 1: expected a mapping, got a list");
}

TEST(DecodeErrors, WrongApiVersion) {
  EXPECT_EQ(ErrorOf("apiVersion: networking.k8s.io/v1beta1\nkind: NetworkPolicy\n"
                    "metadata: {name: p}\n"),
            "test.yaml: document 1 (NetworkPolicy default/p): apiVersion: unsupported version "
            "\"networking.k8s.io/v1beta1\" for NetworkPolicy, expected networking.k8s.io/v1");
}

TEST(DecodeErrors, DuplicateKey) {
  EXPECT_EQ(ErrorOf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
                    "data:\n  a: x\n  a: y\n"),
            "test.yaml: document 1 (ConfigMap default/c): data: duplicate key \"a\"");
}

TEST(DecodeErrors, NumberWhereStringIsNeeded) {
  EXPECT_EQ(ErrorOf("apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {version: 1.0}}\n"),
            "test.yaml: document 1 (Pod default/p): metadata.labels[\"version\"]: "
            "expected a string, got 1.0");
}

TEST(DecodeErrors, OneBadDocumentFailsTheWholeText) {
  Result<DecodeOutput> out = DecodeManifests(
      "apiVersion: v1\nkind: Namespace\nmetadata: {name: ok}\n---\nkind: Pod\n", "x.yaml");
  EXPECT_FALSE(out.ok());
}

TEST(DecodeErrors, ProtocolMustBeKnown) {
  EXPECT_EQ(PolicyError("[{protocol: ICMP, port: 80}]"),
            "test.yaml: document 1 (NetworkPolicy default/p): spec.ingress[0].ports[0].protocol: "
            "must be one of TCP, UDP, SCTP, got \"ICMP\"");
}

TEST(DecodeErrors, PortOutOfRange) {
  EXPECT_EQ(PolicyError("[{port: 70000}]"),
            "test.yaml: document 1 (NetworkPolicy default/p): spec.ingress[0].ports[0].port: "
            "must be between 1 and 65535, got 70000");
  EXPECT_EQ(PolicyError("[{port: 0}]"),
            "test.yaml: document 1 (NetworkPolicy default/p): spec.ingress[0].ports[0].port: "
            "must be between 1 and 65535, got 0");
}

TEST(DecodeErrors, EndPortBelowPort) {
  EXPECT_EQ(PolicyError("[{port: 8080, endPort: 80}]"),
            "test.yaml: document 1 (NetworkPolicy default/p): spec.ingress[0].ports[0].endPort: "
            "must be greater than or equal to port (8080), got 80");
}

TEST(DecodeErrors, EndPortWithNamedPort) {
  EXPECT_EQ(PolicyError("[{port: http, endPort: 80}]"),
            "test.yaml: document 1 (NetworkPolicy default/p): spec.ingress[0].ports[0].endPort: "
            "requires a numeric port, but port is \"http\"");
}

TEST(DecodeErrors, EndPortWithoutPort) {
  EXPECT_EQ(PolicyError("[{endPort: 80}]"),
            "test.yaml: document 1 (NetworkPolicy default/p): spec.ingress[0].ports[0].endPort: "
            "requires port to be set");
}

TEST(DecodeErrors, EndPortOutOfRange) {
  EXPECT_EQ(PolicyError("[{port: 80, endPort: 65536}]"),
            "test.yaml: document 1 (NetworkPolicy default/p): spec.ingress[0].ports[0].endPort: "
            "must be between 1 and 65535, got 65536");
}

TEST(DecodeErrors, InvalidNamedPort) {
  EXPECT_EQ(PolicyError("[{port: \"8080\"}]"),
            "test.yaml: document 1 (NetworkPolicy default/p): spec.ingress[0].ports[0].port: "
            "must be a port number or a port name (up to 15 lowercase letters, digits and '-', "
            "with at least one letter), got \"8080\"");
}

TEST(DecodeErrors, IpBlockCidrMustParse) {
  const std::string prefix =
      "test.yaml: document 1 (NetworkPolicy default/p): spec.egress[0].to[0].ipBlock.";
  EXPECT_EQ(IpBlockError("{cidr: 10.0.0.0/33}"),
            prefix + "cidr: not a valid IPv4 or IPv6 CIDR: \"10.0.0.0/33\"");
  EXPECT_EQ(IpBlockError("{cidr: 10.0.0.0}"),
            prefix + "cidr: not a valid IPv4 or IPv6 CIDR: \"10.0.0.0\"");
  EXPECT_EQ(IpBlockError("{cidr: \"fd00::/129\"}"),
            prefix + "cidr: not a valid IPv4 or IPv6 CIDR: \"fd00::/129\"");
  EXPECT_EQ(IpBlockError("{cidr: 300.0.0.0/8}"),
            prefix + "cidr: not a valid IPv4 or IPv6 CIDR: \"300.0.0.0/8\"");
  EXPECT_EQ(IpBlockError("{except: [10.0.0.0/8]}"), prefix + "cidr: required field is missing");
}

TEST(DecodeErrors, IpBlockExceptMustBeInsideCidr) {
  const std::string prefix =
      "test.yaml: document 1 (NetworkPolicy default/p): spec.egress[0].to[0].ipBlock.";
  EXPECT_EQ(IpBlockError("{cidr: 10.0.0.0/16, except: [10.0.1.0/24, 10.1.0.0/24]}"),
            prefix + "except[1]: must be a strict subset of cidr 10.0.0.0/16, got \"10.1.0.0/24\"");
  EXPECT_EQ(IpBlockError("{cidr: 10.0.0.0/16, except: [10.0.0.0/8]}"),
            prefix + "except[0]: must be a strict subset of cidr 10.0.0.0/16, got \"10.0.0.0/8\"");
  EXPECT_EQ(IpBlockError("{cidr: 10.0.0.0/16, except: [10.0.0.0/16]}"),
            prefix + "except[0]: must be a strict subset of cidr 10.0.0.0/16, got \"10.0.0.0/16\"");
  EXPECT_EQ(IpBlockError("{cidr: 10.0.0.0/16, except: [\"fd00::/64\"]}"),
            prefix + "except[0]: must be a strict subset of cidr 10.0.0.0/16, got \"fd00::/64\"");
  EXPECT_EQ(IpBlockError("{cidr: \"fd00::/48\", except: [\"fd01::/64\"]}"),
            prefix + "except[0]: must be a strict subset of cidr fd00::/48, got \"fd01::/64\"");
  EXPECT_EQ(IpBlockError("{cidr: 10.0.0.0/16, except: [10.0.0.0/x]}"),
            prefix + "except[0]: not a valid IPv4 or IPv6 CIDR: \"10.0.0.0/x\"");
  // Unaligned prefixes are compared bit by bit.
  EXPECT_NE(IpBlockError("{cidr: 10.0.0.0/12, except: [10.15.0.0/16]}").find("<decoded"),
            std::string::npos);
  EXPECT_EQ(
      IpBlockError("{cidr: 10.0.0.0/12, except: [10.16.0.0/16]}"),
      prefix + "except[0]: must be a strict subset of cidr 10.0.0.0/12, got \"10.16.0.0/16\"");
}

TEST(DecodeErrors, PeerMustSelectSomething) {
  EXPECT_EQ(IpBlockError("{cidr: 10.0.0.0/8}, podSelector: {}"),
            "test.yaml: document 1 (NetworkPolicy default/p): spec.egress[0].to[0]: "
            "ipBlock cannot be combined with podSelector or namespaceSelector");
}

TEST(DecodeErrors, SelectorOperator) {
  std::string header =
      "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec:\n"
      "  podSelector:\n    matchExpressions: ";
  const std::string prefix =
      "test.yaml: document 1 (NetworkPolicy default/p): spec.podSelector.matchExpressions[0].";
  EXPECT_EQ(ErrorOf(header + "[{key: a, operator: Has}]\n"),
            prefix + "operator: must be one of In, NotIn, Exists, DoesNotExist, got \"Has\"");
  EXPECT_EQ(ErrorOf(header + "[{key: a, operator: In}]\n"),
            prefix + "values: must be non-empty for operator In");
  EXPECT_EQ(ErrorOf(header + "[{key: a, operator: Exists, values: [x]}]\n"),
            prefix + "values: must be empty for operator Exists");
}

TEST(DecodeErrors, PolicyTypeMustBeKnown) {
  EXPECT_EQ(ErrorOf("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\n"
                    "spec: {policyTypes: [Ingress, Both]}\n"),
            "test.yaml: document 1 (NetworkPolicy default/p): spec.policyTypes[1]: "
            "must be one of Ingress, Egress, got \"Both\"");
}

TEST(DecodeErrors, ServiceFields) {
  const std::string head = "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: ";
  const std::string prefix = "test.yaml: document 1 (Service default/s): spec.";
  EXPECT_EQ(ErrorOf(head + "{type: Magic}\n"),
            prefix +
                "type: must be one of ClusterIP, NodePort, LoadBalancer, ExternalName, "
                "got \"Magic\"");
  EXPECT_EQ(ErrorOf(head + "{ports: [{targetPort: 80}]}\n"),
            prefix + "ports[0].port: required field is missing");
  EXPECT_EQ(ErrorOf(head + "{sessionAffinityConfig: {clientIP: {timeoutSeconds: 0}}}\n"),
            prefix +
                "sessionAffinityConfig.clientIP.timeoutSeconds: must be between 1 and "
                "86400, got 0");
  EXPECT_EQ(ErrorOf(head + "{clusterIP: 10.0.0.1, clusterIPs: [10.0.0.2]}\n"),
            prefix + "clusterIPs[0]: must equal spec.clusterIP \"10.0.0.1\", got \"10.0.0.2\"");
  EXPECT_EQ(ErrorOf(head + "{ports: [{port: 99999999999}]}\n"),
            prefix + "ports[0].port: expected a 32-bit integer, got 99999999999");
  EXPECT_EQ(ErrorOf(head + "{ports: {port: 80}}\n"),
            prefix + "ports: expected a list, got a mapping");
}

TEST(DecodeErrors, EndpointSliceFields) {
  const std::string head =
      "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: e}\n";
  const std::string prefix = "test.yaml: document 1 (EndpointSlice default/e): ";
  EXPECT_EQ(ErrorOf(head), prefix + "addressType: required field is missing");
  EXPECT_EQ(ErrorOf(head + "addressType: IPv4\nendpoints: [{addresses: [10.0.0.1], "
                           "conditions: {ready: \"true\"}}]\n"),
            prefix + "endpoints[0].conditions.ready: expected a boolean, got \"true\"");
}

TEST(DecodeErrors, NodePodCidr) {
  EXPECT_EQ(ErrorOf("apiVersion: v1\nkind: Node\nmetadata: {name: n}\n"
                    "spec: {podCIDRs: [10.0.0.0/24, bogus]}\n"),
            "test.yaml: document 1 (Node n): spec.podCIDRs[1]: not a valid IPv4 or IPv6 CIDR: "
            "\"bogus\"");
}

}  // namespace
}  // namespace kubedp::k8s
