#include "lab/probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <cstring>
#include <sstream>

#include "common/fd.h"

namespace kubedp::lab {
namespace {

sockaddr_in Address(const ProbeTarget& target) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(target.ip);
  addr.sin_port = htons(static_cast<uint16_t>(target.port));
  return addr;
}

// Ready for `events`, or an error is pending (a refusal is an answer too).
bool Wait(int fd, short events, int timeout_ms) {
  pollfd p{.fd = fd, .events = events, .revents = 0};
  return poll(&p, 1, timeout_ms) > 0 && (p.revents & (events | POLLERR));
}

void ParseReply(const std::string& reply, ProbeResult& result) {
  std::istringstream stream(reply);
  stream >> result.answered_by >> result.seen_source;
}

ProbeResult ProbeTcp(const ProbeTarget& target, int timeout_ms) {
  ProbeResult result;
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  sockaddr_in addr = Address(target);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 &&
      errno != EINPROGRESS) {
    result.error = std::strerror(errno);
    return result;
  }
  if (!Wait(fd.get(), POLLOUT, timeout_ms)) {
    result.error = "connect timed out";
    return result;
  }
  int err = 0;
  socklen_t len = sizeof(err);
  getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) {
    result.error = std::strerror(err);
    return result;
  }
  result.connected = true;
  std::string reply;
  char buffer[512];
  // The server greets at once and keeps the connection: one line is the answer.
  while (reply.find('\n') == std::string::npos && Wait(fd.get(), POLLIN, timeout_ms)) {
    ssize_t n = recv(fd.get(), buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    reply.append(buffer, static_cast<size_t>(n));
  }
  ParseReply(reply, result);
  if (result.answered_by.empty()) result.error = "no reply";
  return result;
}

ProbeResult ProbeUdp(const ProbeTarget& target, int timeout_ms) {
  ProbeResult result;
  UniqueFd fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr = Address(target);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    result.error = std::strerror(errno);
    return result;
  }
  // UDP may lose the first datagram while a neighbour resolves: a few tries.
  constexpr int kTries = 3;
  for (int attempt = 0; attempt < kTries; ++attempt) {
    send(fd.get(), "probe\n", 6, 0);
    if (!Wait(fd.get(), POLLIN, timeout_ms / kTries)) continue;
    char buffer[512];
    ssize_t n = recv(fd.get(), buffer, sizeof(buffer), 0);
    if (n <= 0) {
      result.error = n < 0 ? std::strerror(errno) : "empty reply";
      if (n < 0 && errno == ECONNREFUSED) return result;  // an ICMP port unreachable
      continue;
    }
    result.connected = true;
    ParseReply(std::string(buffer, static_cast<size_t>(n)), result);
    result.error.clear();
    return result;
  }
  if (result.error.empty()) result.error = "no reply";
  return result;
}

}  // namespace

ProbeResult Probe(const ProbeTarget& target, int timeout_ms) {
  return target.protocol == "UDP" ? ProbeUdp(target, timeout_ms) : ProbeTcp(target, timeout_ms);
}

}  // namespace kubedp::lab
