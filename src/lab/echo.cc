#include "lab/echo.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/fd.h"
#include "common/ip.h"

namespace kubedp::lab {
namespace {

Result<UniqueFd> Bind(int type, int port) {
  UniqueFd fd(socket(AF_INET, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return Status::FromErrno(errno, "socket");
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return Status::FromErrno(errno, "binding port " + std::to_string(port));
  }
  if (type == SOCK_STREAM && listen(fd.get(), 1024) != 0) {
    return Status::FromErrno(errno, "listening on port " + std::to_string(port));
  }
  return fd;
}

std::string Reply(const std::string& pod, const sockaddr_in& peer) {
  return pod + " " + FormatIpv4(ntohl(peer.sin_addr.s_addr)) + ":" +
         std::to_string(ntohs(peer.sin_port)) + "\n";
}

// One short exchange per connection: the reply goes out at once, so a client
// that only connects still learns who answered.
void AnswerTcp(int listener, const std::string& pod) {
  sockaddr_in peer{};
  socklen_t len = sizeof(peer);
  UniqueFd conn(accept4(listener, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC));
  if (!conn.valid()) return;
  std::string reply = Reply(pod, peer);
  (void)!send(conn.get(), reply.data(), reply.size(), MSG_NOSIGNAL);
  shutdown(conn.get(), SHUT_WR);
}

void AnswerUdp(int fd, const std::string& pod) {
  char buffer[2048];
  sockaddr_in peer{};
  socklen_t len = sizeof(peer);
  ssize_t n = recvfrom(fd, buffer, sizeof(buffer), 0, reinterpret_cast<sockaddr*>(&peer), &len);
  if (n < 0) return;
  std::string reply = Reply(pod, peer);
  sendto(fd, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&peer), len);
}

}  // namespace

Status RunEchoServer(const EchoConfig& config) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigprocmask(SIG_BLOCK, &signals, nullptr);
  UniqueFd signal_fd(signalfd(-1, &signals, SFD_CLOEXEC));

  std::vector<UniqueFd> sockets;
  std::vector<pollfd> fds{{signal_fd.get(), POLLIN, 0}};
  std::vector<bool> is_tcp{false};
  for (int port : config.tcp_ports) {
    auto fd = Bind(SOCK_STREAM, port);
    if (!fd.ok()) return fd.status();
    fds.push_back({fd->get(), POLLIN, 0});
    is_tcp.push_back(true);
    sockets.push_back(std::move(fd).value());
  }
  for (int port : config.udp_ports) {
    auto fd = Bind(SOCK_DGRAM, port);
    if (!fd.ok()) return fd.status();
    fds.push_back({fd->get(), POLLIN, 0});
    is_tcp.push_back(false);
    sockets.push_back(std::move(fd).value());
  }
  if (config.ready_fd >= 0) {
    (void)!write(config.ready_fd, "r", 1);
    close(config.ready_fd);
  }
  while (true) {
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "poll");
    }
    if (fds[0].revents) return Status::Ok();
    for (size_t i = 1; i < fds.size(); ++i) {
      if (!fds[i].revents) continue;
      if (is_tcp[i]) {
        AnswerTcp(fds[i].fd, config.pod);
      } else {
        AnswerUdp(fds[i].fd, config.pod);
      }
    }
  }
}

}  // namespace kubedp::lab
