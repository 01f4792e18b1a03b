// Tells when the manifest files of one directory change, via inotify, so the
// agent reloads on edits instead of polling.
#pragma once

#include <string>

#include "common/result.h"

namespace kubedp::source {

class DirectoryWatcher {
 public:
  // Watches dir (not recursively) for files written, created, renamed in or
  // out, and deleted.
  static Result<DirectoryWatcher> Open(const std::string& dir);

  DirectoryWatcher(DirectoryWatcher&& other) noexcept;
  DirectoryWatcher& operator=(DirectoryWatcher&& other) noexcept;
  DirectoryWatcher(const DirectoryWatcher&) = delete;
  DirectoryWatcher& operator=(const DirectoryWatcher&) = delete;
  ~DirectoryWatcher();

  // Readable when events are pending; for callers that poll several fds.
  int fd() const { return fd_; }

  // Reads every pending event without blocking. True when one of them may
  // have changed the manifests (see IsManifestFileName), or when events were
  // lost and the caller must rescan anyway.
  bool Drain();

  // Waits up to timeout_ms (negative: forever) for a relevant change; true if
  // one was seen. Irrelevant events (a notes.txt, an editor's swap file) are
  // consumed without ending the wait.
  bool WaitForChange(int timeout_ms);

 private:
  explicit DirectoryWatcher(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace kubedp::source
