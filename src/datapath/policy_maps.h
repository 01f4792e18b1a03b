// Writes compiled NetworkPolicy into kdp_pol_peers and kdp_pol_ports: only
// the difference between the compiled tables and what the maps hold.
#pragma once

#include "common/result.h"
#include "control/policy_compiler.h"

namespace kubedp::datapath {

struct PolicyMapStats {
  size_t peer_entries = 0;
  size_t port_entries = 0;
  size_t written = 0;
  size_t deleted = 0;
};

Result<PolicyMapStats> ReconcilePolicyMaps(int peers_fd, int ports_fd,
                                           const control::PolicyTables& tables);

}  // namespace kubedp::datapath
