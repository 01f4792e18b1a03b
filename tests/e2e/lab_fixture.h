// A lab shared by the tests of one suite: built once from a manifest, under a
// name unique to this process, and torn down even when a test fails.
#pragma once

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <string>

#include "api/rpc.h"
#include "lab/lab.h"

namespace kubedp::testing {

inline std::string UniqueLabName(const std::string& stem) {
  return stem + "-" + std::to_string(getpid());
}

inline std::string ManifestPath(const std::string& name) {
  return std::string(KUBEDP_E2E_MANIFESTS) + "/" + name;
}

// Builds the lab of a test manifest under a unique name (into *lab, for the
// suite's TearDownTestSuite to remove), failing the suite when it cannot.
inline void UpLab(const std::string& stem, const std::string& manifest, std::string* lab) {
  *lab = UniqueLabName(stem);
  Status up = lab::Up(ManifestPath(manifest), {.name_override = *lab});
  ASSERT_TRUE(up.ok()) << up.message();
}

// Tests that hold thousands of connections need the hard open-file limit;
// the lab's echo servers, started from the test, inherit it.
inline void RaiseOpenFileLimit() {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
}

// Calls the agent of a lab node and fails the test on error.
inline api::Json AgentCall(const std::string& lab, const std::string& method,
                           const std::string& node = "node1") {
  auto result = api::Call(lab::NodeSocket(lab, node), method);
  EXPECT_TRUE(result.ok()) << method << ": " << result.status().message();
  return result.ok() ? *result : api::Json::object();
}

// Packets the datapath counted for a reason label ("forwarded", ...).
inline uint64_t Counted(const std::string& lab, const std::string& reason) {
  uint64_t packets = 0;
  for (const auto& row : AgentCall(lab, "metrics")) {
    if (row["reason"] == reason) packets += row["packets"].get<uint64_t>();
  }
  return packets;
}

}  // namespace kubedp::testing
