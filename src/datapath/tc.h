// tc clsact attachment of kubedp programs (libbpf 1.1 has no tcx links).
// Deliberately not RAII-owned by the agent: a filter stays on its veth when the
// agent exits, so traffic keeps flowing through a restart, and goes away with
// the veth when the pod is deleted.
#pragma once

#include <cstdint>

#include "common/result.h"

namespace kubedp::datapath {

// Handle and priority of kubedp's filter: a reload replaces it atomically.
inline constexpr uint32_t kTcHandle = 1;
inline constexpr uint32_t kTcPriority = 1;

Status AttachIngress(int ifindex, int prog_fd);
Status DetachIngress(int ifindex);
// Id of the program attached at ingress by kubedp, 0 when none.
Result<uint32_t> AttachedIngressProgramId(int ifindex);

}  // namespace kubedp::datapath
