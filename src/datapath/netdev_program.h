// The programs on the node device (bpf/netdev.bpf.c): tc ingress (replies of
// translated flows, NodePort/LoadBalancer/external IPs, traffic routed to
// local pods) and tc egress (masquerade, the node's own flows). They share
// the node's pinned maps with the pod program, which is loaded first.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/result.h"
#include "datapath/program_common.h"
#include "kubedp/abi.h"

struct kdp_netdev;

namespace kubedp::datapath {

class NetdevProgram {
 public:
  static Result<std::unique_ptr<NetdevProgram>> Load(const std::string& pin_dir,
                                                     const kdp_node_config& config,
                                                     const MapSizes& sizes = {});
  ~NetdevProgram();
  NetdevProgram(const NetdevProgram&) = delete;
  NetdevProgram& operator=(const NetdevProgram&) = delete;

  // Attaches both programs to the device, replacing kubedp's earlier ones.
  Status AttachTo(int ifindex) const;
  // Removes kubedp's filters from the device (uninstall).
  static Status DetachFrom(int ifindex);

  int IngressFd() const;
  int EgressFd() const;
  ProgramFacts IngressFacts() const { return ingress_; }
  ProgramFacts EgressFacts() const { return egress_; }

 private:
  explicit NetdevProgram(kdp_netdev* skeleton);
  kdp_netdev* skeleton_;
  ProgramFacts ingress_;
  ProgramFacts egress_;
};

}  // namespace kubedp::datapath
