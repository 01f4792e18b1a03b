// Probes from inside a pod's network namespace: a TCP connect or a UDP
// exchange with the echo server, and who answered.
#pragma once

#include <cstdint>
#include <string>

namespace kubedp::lab {

struct ProbeTarget {
  uint32_t ip = 0;  // host byte order
  int port = 0;
  std::string protocol;  // "TCP" or "UDP"
};

struct ProbeResult {
  bool connected = false;
  std::string answered_by;  // "namespace/pod" from the echo server's reply
  std::string seen_source;  // source address the server saw
  std::string error;
};

// Runs in the calling thread's current network namespace.
ProbeResult Probe(const ProbeTarget& target, int timeout_ms);

}  // namespace kubedp::lab
