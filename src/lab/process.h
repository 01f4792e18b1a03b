// Processes of the lab: daemons started in a network namespace (agents, echo
// servers), commands run to completion there (the CNI plugin), and the search
// for every process left in a namespace (for a teardown after a crash).
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "common/result.h"

namespace kubedp::lab {

struct SpawnOptions {
  std::vector<std::string> argv;
  std::string netns;                       // path; empty: stay in the current namespace
  std::string log_path;                    // stdout and stderr; empty: /dev/null
  std::map<std::string, std::string> env;  // added to the environment
};

// Starts a daemon in its own session (it outlives the caller). If ready_fd is
// true, the child gets a pipe on fd 3 and Spawn waits (up to timeout_ms) until
// it writes a byte there: the readiness check of servers that must listen first.
Result<pid_t> Spawn(const SpawnOptions& options, bool wait_ready = false, int timeout_ms = 10000);

struct CommandResult {
  int exit_code;
  std::string out;
};
// Runs to completion with stdin_text on stdin; stdout captured, stderr to log_path.
// kill_after_ms >= 0 sends SIGKILL if the command is still running by then
// (tests use it to kill the CNI plugin part way through).
Result<CommandResult> RunCommand(const SpawnOptions& options, const std::string& stdin_text,
                                 int kill_after_ms = -1);

// Sends SIGTERM, waits up to timeout_ms, then SIGKILL. Absent processes are fine.
void Stop(pid_t pid, int timeout_ms = 5000);
bool Alive(pid_t pid);

// Every process whose network namespace is the one at netns_path.
std::vector<pid_t> ProcessesInNetns(const std::string& netns_path);

// Directory of the running executable: where kubedp-agent and kubedp-cni sit too.
std::string SelfDir();

}  // namespace kubedp::lab
