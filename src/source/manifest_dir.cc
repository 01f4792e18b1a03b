#include "source/manifest_dir.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <functional>
#include <set>
#include <utility>

#include "common/result.h"
#include "k8s/decode.h"

namespace kubedp::source {
namespace {

Result<std::string> ReadFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "cannot open " + path);
  std::string text;
  char buffer[16384];
  for (;;) {
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      close(fd);
      if (n < 0) return Status::FromErrno(err, "cannot read " + path);
      return text;
    }
    text.append(buffer, static_cast<size_t>(n));
  }
}

// The manifest file names currently in dir, sorted.
Result<std::set<std::string>> ListManifests(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::set<std::string> names;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    std::error_code type_ec;  // a dangling symlink is simply not a manifest
    if (IsManifestFileName(name) && it->is_regular_file(type_ec)) names.insert(std::move(name));
  }
  if (ec) return Status::Error(ec.value(), "cannot read manifest directory: " + ec.message());
  return names;
}

std::string Identity(const k8s::Object& object) {
  return std::string(k8s::KindOf(object)) + " " + k8s::MetaOf(object).Key();
}

}  // namespace

bool IsManifestFileName(std::string_view name) {
  // Hidden files include emacs lock files (.#x.yaml) and vim swap files
  // (.x.yaml.swp); "~" marks backups. Editors leave these half-written.
  if (name.empty() || name.front() == '.' || name.back() == '~' || name.ends_with(".swp")) {
    return false;
  }
  return name.ends_with(".yaml") || name.ends_with(".yml") || name.ends_with(".json");
}

ManifestDirectory::ManifestDirectory(std::string dir) : dir_(std::move(dir)) {}

ReloadReport ManifestDirectory::Reload() {
  ReloadReport report;
  Result<std::set<std::string>> names = ListManifests(dir_);
  if (!names.ok()) {
    // Keep everything: an unmounted or mistyped directory must not look like
    // "the cluster is empty" and wipe the datapath.
    report.errors.push_back({dir_, names.status().message()});
    return report;
  }
  std::erase_if(last_good_, [&](const auto& entry) { return !names->contains(entry.first); });
  std::erase_if(last_read_, [&](const auto& entry) { return !names->contains(entry.first); });
  for (const std::string& name : *names) LoadFile(name, &report);
  k8s::ClusterState before = std::move(state_);
  Merge(&report);
  report.changed = state_ != before;
  std::stable_sort(report.errors.begin(), report.errors.end(),
                   [](const FileError& a, const FileError& b) { return a.path < b.path; });
  return report;
}

void ManifestDirectory::LoadFile(const std::string& name, ReloadReport* report) {
  std::string path = dir_ + "/" + name;
  Result<std::string> text = ReadFile(path);
  if (!text.ok()) {
    report->errors.push_back({path, text.status().message()});
    return;
  }
  size_t text_hash = std::hash<std::string>{}(*text);
  auto seen = last_read_.find(name);
  if (seen != last_read_.end() && seen->second.text_hash == text_hash) {
    if (!seen->second.error.empty()) report->errors.push_back({path, seen->second.error});
    return;
  }
  Result<k8s::DecodeOutput> decoded = k8s::DecodeManifests(*text, name);
  if (!decoded.ok()) {
    // The previous good objects of this file (if any) stay in last_good_.
    report->errors.push_back({path, decoded.status().message()});
    last_read_[name] = LastRead{text_hash, decoded.status().message()};
    return;
  }
  last_good_[name] = std::move(decoded->objects);
  last_read_[name] = LastRead{text_hash, ""};
}

void ManifestDirectory::Merge(ReloadReport* report) {
  k8s::ClusterState merged;
  std::map<std::string, std::string> owner;  // "Kind ns/name" -> file that defined it
  for (const auto& [name, objects] : last_good_) {
    for (const k8s::Object& object : objects) {
      std::string id = Identity(object);
      auto [it, inserted] = owner.try_emplace(id, name);
      if (!inserted) {
        std::string message =
            it->second == name
                ? id + " is defined more than once in " + name + "; the last definition wins"
                : id + " is defined in both " + it->second + " and " + name + "; " + name + " wins";
        report->errors.push_back(
            {dir_ + "/" + name, std::move(message), FileError::Severity::kWarning});
        it->second = name;
      }
      merged.Add(object);
    }
  }
  state_ = std::move(merged);
}

}  // namespace kubedp::source
