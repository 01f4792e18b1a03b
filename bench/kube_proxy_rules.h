// A synthetic cluster of many Services, written three ways: as manifests for
// kubedp, as the rules kube-proxy's iptables mode programs (iptables-restore
// input) and as the table its nftables mode programs (nft -f input). The
// rule shapes follow kube-proxy's: a KUBE-SERVICES dispatch chain with one
// rule per Service port, a chain per Service choosing an endpoint with
// `statistic random`, a chain per endpoint doing the DNAT; for nftables a
// verdict map from address . protocol . port to the Service's chain, which
// picks an endpoint with `numgen random`.
#pragma once

#include <cstdint>
#include <string>

namespace kubedp::bench {

struct SyntheticCluster {
  int services = 0;               // besides the measured Service
  int endpoints_per_service = 1;  // synthetic backends (172.16.0.0/12, never answered)
  int policies = 0;               // NetworkPolicies that select no pod of the node
};

// The Service the benchmark connects to: vip:port -> backend:backend_port.
// In the dispatch chain it sits in the middle of the synthetic ones (the
// average position of a Service among all).
struct MeasuredService {
  std::string vip;
  uint16_t port = 80;
  std::string backend;
  uint16_t backend_port = 8080;
};

// Services s0..sN-1 (10.100.0.0/16 onwards, port 80) in namespace "scale",
// each with an EndpointSlice, plus the policies: a kubedp manifest (JSON List).
std::string KubedpManifest(const SyntheticCluster& cluster);
// The nat table as kube-proxy's iptables mode writes it.
std::string IptablesRestoreInput(const SyntheticCluster& cluster, const MeasuredService& measured);
// The kube-proxy table as its nftables mode writes it (replacing any earlier
// one), except that only the measured Service has chains of its own (see the
// .cc for why; the packet's path is the same).
std::string NftablesInput(const SyntheticCluster& cluster, const MeasuredService& measured);

}  // namespace kubedp::bench
