// The suite's load generator: request/response on one connection and
// connect/close, run in a client network namespace on CPU 0, counted per
// second of the round.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>

namespace kubedp::bench {

// Pins a process (0: the calling thread) to one CPU, modulo the CPUs there are.
void PinTo(pid_t pid, int cpu);

std::string NetnsPath(const std::string& name);

// Request/response on one established connection: a line out, a line back.
double RequestResponse(const std::string& netns, const std::string& ip, uint16_t port,
                       double seconds);

// New connections: connect, the server's greeting, close with a reset (no
// TIME_WAIT left to exhaust the client's ports over many rounds).
double ConnectRate(const std::string& netns, const std::string& ip, uint16_t port, double seconds);

// ConnectRate from `clients` threads at once (all on CPU 0): connections
// per second in all, and how many attempts failed (a failed attempt is
// counted and the client goes on).
struct ParallelConnects {
  double per_second = 0;
  uint64_t failed = 0;
};
ParallelConnects ParallelConnectRate(const std::string& netns, const std::string& ip, uint16_t port,
                                     double seconds, int clients);

// Connects from netns again and again until an attempt ends as wanted
// (answered with the greeting, or not); returns the milliseconds from since
// to that attempt's end, or a negative value when limit_ms passed first.
double MillisUntil(const std::string& netns, const std::string& ip, uint16_t port, bool answered,
                   std::chrono::steady_clock::time_point since, int limit_ms);

}  // namespace kubedp::bench
