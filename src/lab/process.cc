#include "lab/process.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/fd.h"

namespace kubedp::lab {
namespace {

// Only async-signal-safe calls between fork and exec.
[[noreturn]] void ExecChild(const SpawnOptions& options, int out_fd, int netns_fd, char** argv,
                            char** envp) {
  if (netns_fd >= 0 && setns(netns_fd, CLONE_NEWNET) != 0) _exit(126);
  int null_fd = open("/dev/null", O_RDWR);
  dup2(null_fd, 0);
  if (out_fd >= 0) {
    dup2(out_fd, 1);
    dup2(out_fd, 2);
  } else {
    dup2(null_fd, 1);
    dup2(null_fd, 2);
  }
  (void)options;
  execve(argv[0], argv, envp);
  _exit(127);
}

struct ExecArgs {
  std::vector<std::string> env_storage;
  std::vector<char*> argv;
  std::vector<char*> envp;
};

ExecArgs Prepare(const SpawnOptions& options) {
  ExecArgs args;
  for (const auto& a : options.argv) args.argv.push_back(const_cast<char*>(a.c_str()));
  args.argv.push_back(nullptr);
  for (char** e = environ; *e; ++e) {
    std::string entry(*e);
    if (!options.env.count(entry.substr(0, entry.find('=')))) args.env_storage.push_back(entry);
  }
  for (const auto& [k, v] : options.env) args.env_storage.push_back(k + "=" + v);
  for (auto& e : args.env_storage) args.envp.push_back(e.data());
  args.envp.push_back(nullptr);
  return args;
}

Result<UniqueFd> OpenLog(const std::string& path) {
  if (path.empty()) return UniqueFd();
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return Status::FromErrno(errno, "opening log " + path);
  return UniqueFd(fd);
}

Result<UniqueFd> OpenNetnsFd(const std::string& path) {
  if (path.empty()) return UniqueFd();
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "opening netns " + path);
  return UniqueFd(fd);
}

}  // namespace

Result<pid_t> Spawn(const SpawnOptions& options, bool wait_ready, int timeout_ms) {
  auto log = OpenLog(options.log_path);
  if (!log.ok()) return log.status();
  auto netns = OpenNetnsFd(options.netns);
  if (!netns.ok()) return netns.status();
  int ready[2] = {-1, -1};
  if (wait_ready && pipe2(ready, O_CLOEXEC) != 0) return Status::FromErrno(errno, "pipe");
  ExecArgs args = Prepare(options);

  pid_t pid = fork();
  if (pid < 0) return Status::FromErrno(errno, "fork");
  if (pid == 0) {
    setsid();
    if (wait_ready) {
      close(ready[0]);
      dup2(ready[1], 3);  // dup2 clears O_CLOEXEC on the copy
    }
    ExecChild(options, log->get(), netns->get(), args.argv.data(), args.envp.data());
  }
  if (!wait_ready) return pid;

  close(ready[1]);
  UniqueFd reader(ready[0]);
  pollfd p{.fd = reader.get(), .events = POLLIN, .revents = 0};
  char byte = 0;
  if (poll(&p, 1, timeout_ms) <= 0 || read(reader.get(), &byte, 1) != 1) {
    Stop(pid, 1000);
    return Status::Error(ETIMEDOUT,
                         options.argv[0] + " did not become ready (log: " + options.log_path + ")");
  }
  return pid;
}

Result<CommandResult> RunCommand(const SpawnOptions& options, const std::string& stdin_text,
                                 int kill_after_ms) {
  auto log = OpenLog(options.log_path);
  if (!log.ok()) return log.status();
  auto netns = OpenNetnsFd(options.netns);
  if (!netns.ok()) return netns.status();
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
    return Status::FromErrno(errno, "pipe");
  ExecArgs args = Prepare(options);
  pid_t pid = fork();
  if (pid < 0) return Status::FromErrno(errno, "fork");
  if (pid == 0) {
    if (netns->valid() && setns(netns->get(), CLONE_NEWNET) != 0) _exit(126);
    dup2(in[0], 0);
    dup2(out[1], 1);
    if (log->valid()) dup2(log->get(), 2);
    execve(args.argv[0], args.argv.data(), args.envp.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  // Inputs are small (a network config): one write fits the pipe buffer.
  (void)!write(in[1], stdin_text.data(), stdin_text.size());
  close(in[1]);
  CommandResult result{0, ""};
  if (kill_after_ms >= 0) {
    pollfd p{.fd = out[0], .events = POLLIN, .revents = 0};
    if (poll(&p, 1, kill_after_ms) == 0) kill(pid, SIGKILL);
  }
  char buffer[4096];
  ssize_t n;
  while ((n = read(out[0], buffer, sizeof(buffer))) > 0) result.out.append(buffer, n);
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

namespace {

// A zombie has exited; whether its parent reaps it soon is not ours to wait
// for (some init processes reap late).
bool IsZombie(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  auto end_of_name = line.rfind(')');
  return end_of_name != std::string::npos && end_of_name + 2 < line.size() &&
         line[end_of_name + 2] == 'Z';
}

}  // namespace

bool Alive(pid_t pid) {
  if (pid <= 0) return false;
  // Reap it if it is our child and has exited.
  int status;
  if (waitpid(pid, &status, WNOHANG) == pid) return false;
  return kill(pid, 0) == 0 && !IsZombie(pid);
}

void Stop(pid_t pid, int timeout_ms) {
  if (!Alive(pid)) return;
  kill(pid, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (Alive(pid) && std::chrono::steady_clock::now() < deadline) {
    // Not a sleep standing in for a readiness check: polling a process for exit.
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (Alive(pid)) kill(pid, SIGKILL);
}

std::vector<pid_t> ProcessesInNetns(const std::string& netns_path) {
  std::vector<pid_t> pids;
  struct stat target {};
  if (stat(netns_path.c_str(), &target) != 0) return pids;
  DIR* proc = opendir("/proc");
  if (!proc) return pids;
  while (dirent* entry = readdir(proc)) {
    pid_t pid = atoi(entry->d_name);
    if (pid <= 0) continue;
    struct stat ns {};
    std::string path = "/proc/" + std::string(entry->d_name) + "/ns/net";
    if (stat(path.c_str(), &ns) == 0 && ns.st_ino == target.st_ino && ns.st_dev == target.st_dev)
      pids.push_back(pid);
  }
  closedir(proc);
  return pids;
}

std::string SelfDir() {
  return std::filesystem::read_symlink("/proc/self/exe").parent_path().string();
}

}  // namespace kubedp::lab
