#include "lab/echo.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
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

void AnswerUdp(int fd, const std::string& pod) {
  char buffer[2048];
  sockaddr_in peer{};
  socklen_t len = sizeof(peer);
  ssize_t n = recvfrom(fd, buffer, sizeof(buffer), 0, reinterpret_cast<sockaddr*>(&peer), &len);
  if (n < 0) return;
  std::string reply = Reply(pod, peer);
  sendto(fd, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&peer), len);
}

enum class SocketKind { kSignal, kTcpListener, kUdp, kConnection };

struct Served {
  UniqueFd fd;
  SocketKind kind;
  std::string greeting;  // for connections: the reply line
};

// Raises the open-file limit to its maximum: a lab pod may hold thousands of
// long-lived connections.
void RaiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

}  // namespace

// Every connection is answered at once with the greeting (who answered, whom
// it saw) and stays open: each later chunk the client sends gets the greeting
// again, so long-lived connections can be checked for life; EOF closes it.
Status RunEchoServer(const EchoConfig& config) {
  RaiseFileLimit();
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigprocmask(SIG_BLOCK, &signals, nullptr);

  std::vector<Served> served;
  served.push_back({UniqueFd(signalfd(-1, &signals, SFD_CLOEXEC)), SocketKind::kSignal, ""});
  for (int port : config.tcp_ports) {
    auto fd = Bind(SOCK_STREAM, port);
    if (!fd.ok()) return fd.status();
    served.push_back({std::move(fd).value(), SocketKind::kTcpListener, ""});
  }
  for (int port : config.udp_ports) {
    auto fd = Bind(SOCK_DGRAM, port);
    if (!fd.ok()) return fd.status();
    served.push_back({std::move(fd).value(), SocketKind::kUdp, ""});
  }
  if (config.ready_fd >= 0) {
    (void)!write(config.ready_fd, "r", 1);
    close(config.ready_fd);
  }
  std::vector<pollfd> fds;
  while (true) {
    fds.clear();
    for (const auto& s : served) fds.push_back({s.fd.get(), POLLIN, 0});
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "poll");
    }
    std::vector<Served> accepted;
    for (size_t i = 0; i < fds.size(); ++i) {
      if (!fds[i].revents) continue;
      Served& s = served[i];
      switch (s.kind) {
        case SocketKind::kSignal:
          return Status::Ok();
        case SocketKind::kUdp:
          AnswerUdp(s.fd.get(), config.pod);
          break;
        case SocketKind::kTcpListener: {
          sockaddr_in peer{};
          socklen_t len = sizeof(peer);
          UniqueFd conn(accept4(s.fd.get(), reinterpret_cast<sockaddr*>(&peer), &len,
                                SOCK_CLOEXEC | SOCK_NONBLOCK));
          if (!conn.valid()) break;
          std::string greeting = Reply(config.pod, peer);
          (void)!send(conn.get(), greeting.data(), greeting.size(), MSG_NOSIGNAL);
          accepted.push_back({std::move(conn), SocketKind::kConnection, greeting});
          break;
        }
        case SocketKind::kConnection: {
          char buffer[4096];
          ssize_t n = recv(s.fd.get(), buffer, sizeof(buffer), 0);
          if (n > 0) {
            (void)!send(s.fd.get(), s.greeting.data(), s.greeting.size(), MSG_NOSIGNAL);
          } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            s.fd.Reset();  // closed by the peer: dropped below
          }
          break;
        }
      }
    }
    std::erase_if(served, [](const Served& s) { return !s.fd.valid(); });
    for (auto& a : accepted) served.push_back(std::move(a));
  }
}

}  // namespace kubedp::lab
