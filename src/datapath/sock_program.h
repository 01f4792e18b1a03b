// The socket hooks (bpf/sock.bpf.c) that let the node's own processes reach
// Services: attached to the cgroup v2 root through bpf links pinned in the
// node's bpffs directory, so they stay while the agent restarts (a new agent
// swaps its programs into the same links) and go with an uninstall.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/result.h"
#include "datapath/program_common.h"
#include "kubedp/abi.h"

struct kdp_sock;

namespace kubedp::datapath {

class SockProgram {
 public:
  static Result<std::unique_ptr<SockProgram>> Load(const std::string& pin_dir,
                                                   const kdp_node_config& config,
                                                   const MapSizes& sizes = {});
  ~SockProgram();
  SockProgram(const SockProgram&) = delete;
  SockProgram& operator=(const SockProgram&) = delete;

  // Attaches connect4, sendmsg4 and recvmsg4 to the cgroup at cgroup_path,
  // or updates the links already pinned in pin_dir.
  Status AttachTo(const std::string& cgroup_path, const std::string& pin_dir) const;

 private:
  explicit SockProgram(kdp_sock* skeleton);
  kdp_sock* skeleton_;
};

// SO_NETNS_COOKIE of the calling thread's network namespace.
Result<uint64_t> CurrentNetnsCookie();
// Where the cgroup v2 hierarchy is mounted ("" when it is not).
std::string CgroupV2Root();

}  // namespace kubedp::datapath
