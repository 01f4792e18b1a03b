// A directory of Kubernetes manifests as the source of cluster state, for
// nodes (and the lab) that run without an API server.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "k8s/objects.h"
#include "source/directory_watcher.h"

namespace kubedp::source {

// Whether a directory entry is a manifest: *.yaml, *.yml or *.json, and not a
// hidden file or an editor's temporary (foo.yaml~, .#foo.yaml, .foo.yaml.swp).
bool IsManifestFileName(std::string_view name);

struct FileError {
  enum class Severity { kError, kWarning };
  std::string path;
  std::string message;
  Severity severity = Severity::kError;
};

struct ReloadReport {
  std::vector<FileError> errors;  // errors and warnings, sorted by file
  bool changed = false;           // State() differs from before the reload
};

class ManifestDirectory {
 public:
  explicit ManifestDirectory(std::string dir);

  // Re-reads every manifest file directly in the directory (symlinks are
  // followed, so a mounted ConfigMap works); a file whose text is unchanged
  // is not decoded again. A file that fails to read or decode keeps its last
  // good objects in force; a deleted file takes its objects with it. When two files define the same
  // kind and key, the file whose name sorts last wins and a warning names both.
  ReloadReport Reload();

  const k8s::ClusterState& State() const { return state_; }
  const std::string& dir() const { return dir_; }

 private:
  // Reads and decodes one file into last_good_, or reports why it could not.
  void LoadFile(const std::string& name, ReloadReport* report);
  // Rebuilds state_ from last_good_, reporting keys defined more than once.
  void Merge(ReloadReport* report);

  // What a file held when last decoded (its text's hash), and why it was
  // rejected (empty when it decoded). Timestamps would not do: an edit
  // within one clock tick keeps the size and the modification time.
  struct LastRead {
    size_t text_hash = 0;
    std::string error;
  };

  std::string dir_;
  std::map<std::string, std::vector<k8s::Object>> last_good_;  // by file name
  std::map<std::string, LastRead> last_read_;                  // by file name
  k8s::ClusterState state_;
};

}  // namespace kubedp::source
