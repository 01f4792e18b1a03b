// tc clsact attachment of kubedp programs (libbpf 1.1 has no tcx links).
// Deliberately not RAII-owned by the agent: a filter stays on its device when
// the agent exits, so traffic keeps flowing through a restart, and goes away
// with the veth when the pod is deleted (or by an uninstall for the node device).
#pragma once

#include <cstdint>

#include "common/result.h"

namespace kubedp::datapath {

// Handle and priority of kubedp's filter: a reload replaces it atomically.
inline constexpr uint32_t kTcHandle = 1;
inline constexpr uint32_t kTcPriority = 1;

enum class TcHook { kIngress, kEgress };

Status Attach(int ifindex, int prog_fd, TcHook hook);
Status Detach(int ifindex, TcHook hook);
// Id of the program attached by kubedp at the hook, 0 when none.
Result<uint32_t> AttachedProgramId(int ifindex, TcHook hook);

inline Status AttachIngress(int ifindex, int prog_fd) {
  return Attach(ifindex, prog_fd, TcHook::kIngress);
}
inline Status DetachIngress(int ifindex) {
  return Detach(ifindex, TcHook::kIngress);
}
inline Result<uint32_t> AttachedIngressProgramId(int ifindex) {
  return AttachedProgramId(ifindex, TcHook::kIngress);
}

}  // namespace kubedp::datapath
