// The benchmark topologies, torn down together: a kubedp lab (client and
// server pods on one node, the server behind a ClusterIP under an ingress
// policy) and, per baseline variant, the same shape built by hand: client
// netns -- veth -- node netns -- veth -- server netns with kernel routing
// (10.200.1.0/24 and 10.200.2.0/24) and an echo server. The variants carry
// the lab's prefix, so `kubedp lab down` finds them after a crash too. The
// variant "masq" also masquerades what its client sends (iptables
// MASQUERADE, nf_conntrack).
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "common/result.h"

namespace kubedp::bench {

inline constexpr uint16_t kEchoPort = 8080;
inline constexpr uint16_t kIperfPort = 5201;
// The lab node's conntrack table size (bench-lab.yaml's agentArgs).
inline constexpr uint32_t kLabCtEntries = 1u << 20;

class Topologies {
 public:
  struct Options {
    std::string lab_tag;                // e2e-bench-<tag>-<pid>
    std::vector<std::string> variants;  // baseline topologies, e.g. {"bare"}
    bool iperf = false;                 // iperf3 servers in kubedp's and bare's server
  };
  static Result<std::unique_ptr<Topologies>> Build(const Options& options);
  ~Topologies();

  // Network namespace names of a baseline variant: role "c", "n" or "s".
  std::string Variant(const std::string& variant, const std::string& role) const;
  const std::string& lab() const { return lab_; }
  std::string NodeManifestDir() const;
  pid_t AgentPid() const { return agent_pid_; }

  std::string kubedp_client_netns, kubedp_server_netns, kubedp_server_ip;
  static constexpr const char* kBareServer = "10.200.2.2";
  static constexpr const char* kVip = "10.96.0.50";            // the lab's Service, port 80
  static constexpr const char* kExternalHost = "192.0.2.100";  // bench-lab.yaml's "ext"

 private:
  explicit Topologies(std::string lab) : lab_(std::move(lab)) {}
  Status ReadLab();
  Status BuildVariant(const std::string& variant);
  Status StartIperf(const std::string& netns);

  std::string lab_;
  bool up_ = false;
  pid_t agent_pid_ = 0;
  std::vector<pid_t> processes_;
};

}  // namespace kubedp::bench
