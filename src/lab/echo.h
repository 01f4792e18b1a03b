// The lab's echo server: runs in a pod's namespace and answers every TCP
// connection and UDP datagram on the pod's declared ports with
// "<namespace>/<pod> <peer-ip>:<peer-port>\n", so a probe can tell which pod
// answered and what source address it saw.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"

namespace kubedp::lab {

struct EchoConfig {
  std::string pod;  // namespace/name
  std::vector<int> tcp_ports;
  std::vector<int> udp_ports;
  int ready_fd = -1;  // written once every port is bound
};

// Serves until SIGTERM or SIGINT.
Status RunEchoServer(const EchoConfig& config);

}  // namespace kubedp::lab
