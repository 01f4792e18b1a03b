#include "bench/load.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <thread>
#include <vector>

#include "common/fd.h"
#include "netdev/netdev.h"

namespace kubedp::bench {
namespace {

using Clock = std::chrono::steady_clock;

bool ReadLine(int fd, int timeout_ms) {
  char buffer[256];
  while (true) {
    pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
    if (poll(&p, 1, timeout_ms) <= 0) return false;
    ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) return false;
    if (std::memchr(buffer, '\n', static_cast<size_t>(n))) return true;
  }
}

sockaddr_in Address(const std::string& ip, uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
  return addr;
}

UniqueFd Connect(const std::string& ip, uint16_t port, int timeout_ms = 2000) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  sockaddr_in addr = Address(ip, port);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 &&
      errno != EINPROGRESS) {
    return UniqueFd();
  }
  pollfd p{.fd = fd.get(), .events = POLLOUT, .revents = 0};
  int error = 0;
  socklen_t length = sizeof(error);
  if (poll(&p, 1, timeout_ms) <= 0 ||
      getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0 || error != 0) {
    return UniqueFd();
  }
  if (!ReadLine(fd.get(), timeout_ms)) return UniqueFd();  // the server's greeting
  return fd;
}

// Runs one_operation in the client's namespace on CPU 0 until seconds pass;
// returns how many succeeded per second.
double PerSecond(const std::string& netns, double seconds,
                 const std::function<bool()>& one_operation) {
  uint64_t count = 0;
  Clock::time_point start, end;
  std::thread worker([&] {
    auto guard = netdev::NetnsGuard::Enter(netns);
    if (!guard.ok()) return;
    PinTo(0, 0);
    start = Clock::now();
    auto deadline = start + std::chrono::duration<double>(seconds);
    while (Clock::now() < deadline) {
      if (!one_operation()) break;
      ++count;
    }
    end = Clock::now();
  });
  worker.join();
  double elapsed = std::chrono::duration<double>(end - start).count();
  return elapsed > 0 ? count / elapsed : 0;
}

}  // namespace

void PinTo(pid_t pid, int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu % std::max(1u, std::thread::hardware_concurrency()), &set);
  sched_setaffinity(pid, sizeof(set), &set);
}

std::string NetnsPath(const std::string& name) {
  return "/run/netns/" + name;
}

double RequestResponse(const std::string& netns, const std::string& ip, uint16_t port,
                       double seconds) {
  UniqueFd fd;
  return PerSecond(netns, seconds, [&] {
    if (!fd.valid()) fd = Connect(ip, port);  // in the worker's namespace
    return fd.valid() && send(fd.get(), "x\n", 2, MSG_NOSIGNAL) == 2 && ReadLine(fd.get(), 2000);
  });
}

double ConnectRate(const std::string& netns, const std::string& ip, uint16_t port, double seconds) {
  return PerSecond(netns, seconds, [&] {
    UniqueFd fd = Connect(ip, port);
    if (!fd.valid()) return false;
    linger reset{.l_onoff = 1, .l_linger = 0};
    setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
    return true;
  });
}

ParallelConnects ParallelConnectRate(const std::string& netns, const std::string& ip, uint16_t port,
                                     double seconds, int clients) {
  std::atomic<uint64_t> answered{0}, failed{0};
  auto start = Clock::now();
  auto deadline = start + std::chrono::duration<double>(seconds);
  std::vector<std::thread> threads;
  for (int i = 0; i < clients; ++i) {
    threads.emplace_back([&] {
      auto guard = netdev::NetnsGuard::Enter(netns);
      if (!guard.ok()) return;
      PinTo(0, 0);
      while (Clock::now() < deadline) {
        UniqueFd fd = Connect(ip, port);
        if (!fd.valid()) {
          ++failed;
          continue;
        }
        linger reset{.l_onoff = 1, .l_linger = 0};
        setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
        ++answered;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  return {.per_second = answered / elapsed, .failed = failed};
}

double MillisUntil(const std::string& netns, const std::string& ip, uint16_t port, bool answered,
                   Clock::time_point since, int limit_ms) {
  double millis = -1;
  std::thread worker([&] {
    auto guard = netdev::NetnsGuard::Enter(netns);
    if (!guard.ok()) return;
    auto deadline = since + std::chrono::milliseconds(limit_ms);
    while (Clock::now() < deadline) {
      UniqueFd fd = Connect(ip, port, 50);
      if (fd.valid()) {
        linger reset{.l_onoff = 1, .l_linger = 0};
        setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
      }
      if (fd.valid() == answered) {
        millis = std::chrono::duration<double, std::milli>(Clock::now() - since).count();
        return;
      }
    }
  });
  worker.join();
  return millis;
}

}  // namespace kubedp::bench
