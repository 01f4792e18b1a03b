// A client of the lab's echo server for tests that hold connections: connect
// (optionally from a given local address and port), read the greeting line
// ("<who answered> <source it saw>"), keep the socket.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <string>

#include "common/fd.h"

namespace kubedp::testing {

// Reads up to and including one newline; false on EOF or after 2 s of silence.
inline bool ReadLine(int fd, std::string* line) {
  line->clear();
  char c;
  while (true) {
    pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
    if (poll(&p, 1, 2000) <= 0) return false;
    if (recv(fd, &c, 1, 0) != 1) return false;
    if (c == '\n') return true;
    *line += c;
  }
}

struct Greeting {
  std::string who;   // "namespace/pod" (or "external/<host>")
  std::string seen;  // "address:port" the server saw as the client
};

inline Greeting ParseGreeting(const std::string& line) {
  size_t space = line.find(' ');
  if (space == std::string::npos) return {line, ""};
  return {line.substr(0, space), line.substr(space + 1)};
}

// Connects from the calling thread's namespace and waits for the greeting.
// bind_ip/bind_port: the local end to use (0: the kernel's choice).
inline UniqueFd ConnectAndGreet(const std::string& ip, uint16_t port, std::string* greeting,
                                uint32_t bind_ip = 0, uint16_t bind_port = 0) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (bind_ip || bind_port) {
    sockaddr_in local{};
    local.sin_family = AF_INET;
    local.sin_addr.s_addr = htonl(bind_ip);
    local.sin_port = htons(bind_port);
    if (bind(fd.get(), reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) return UniqueFd();
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return UniqueFd();
  if (!ReadLine(fd.get(), greeting)) return UniqueFd();
  return fd;
}

}  // namespace kubedp::testing
