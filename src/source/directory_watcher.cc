#include "source/directory_watcher.h"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string_view>
#include <utility>

#include "source/manifest_dir.h"

namespace kubedp::source {
namespace {

// Kubernetes' atomic writer (ConfigMap and Secret volumes) updates files by
// swapping the "..data" symlink; the visible names never change themselves.
constexpr std::string_view kAtomicWriterLink = "..data";

bool IsRelevant(const inotify_event& event) {
  // Lost events, or the directory itself went away: only a rescan can tell.
  if (event.mask & (IN_Q_OVERFLOW | IN_IGNORED)) return true;
  if (event.len == 0) return false;
  std::string_view name(event.name, strnlen(event.name, event.len));
  if (name == kAtomicWriterLink) return true;
  if (event.mask & IN_ISDIR) return false;
  return IsManifestFileName(name);
}

}  // namespace

Result<DirectoryWatcher> DirectoryWatcher::Open(const std::string& dir) {
  int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "inotify_init1");
  DirectoryWatcher watcher(fd);  // owns fd from here, also on the error path
  constexpr uint32_t kMask =
      IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | IN_ONLYDIR;
  if (inotify_add_watch(fd, dir.c_str(), kMask) < 0) {
    return Status::FromErrno(errno, "cannot watch " + dir);
  }
  return watcher;
}

DirectoryWatcher::DirectoryWatcher(DirectoryWatcher&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)) {}

DirectoryWatcher& DirectoryWatcher::operator=(DirectoryWatcher&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

DirectoryWatcher::~DirectoryWatcher() {
  if (fd_ >= 0) close(fd_);
}

bool DirectoryWatcher::Drain() {
  if (fd_ < 0) return false;
  alignas(inotify_event) char buffer[8192];
  bool relevant = false;
  for (;;) {
    ssize_t n = read(fd_, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    // EAGAIN: drained. Any other failure: claim a change so the caller rescans.
    if (n < 0) return relevant || errno != EAGAIN;
    if (n == 0) return relevant;
    for (ssize_t offset = 0; offset < n;) {
      const auto* event = reinterpret_cast<const inotify_event*>(buffer + offset);
      relevant = IsRelevant(*event) || relevant;
      offset += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
    }
  }
}

bool DirectoryWatcher::WaitForChange(int timeout_ms) {
  if (fd_ < 0) return false;
  using Clock = std::chrono::steady_clock;
  const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    if (Drain()) return true;
    int wait_ms = -1;
    if (timeout_ms >= 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      wait_ms = static_cast<int>(std::max<int64_t>(0, left.count()));
    }
    pollfd pfd{.fd = fd_, .events = POLLIN, .revents = 0};
    int ready = poll(&pfd, 1, wait_ms);
    if (ready == 0) return false;
    if (ready < 0 && errno != EINTR) return false;
  }
}

}  // namespace kubedp::source
