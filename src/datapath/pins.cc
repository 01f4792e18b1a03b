#include "datapath/pins.h"

#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/statfs.h>

#include <filesystem>
#include <system_error>

namespace kubedp::datapath {
namespace fs = std::filesystem;

Status EnsureBpffsMounted() {
  struct statfs info {};
  std::string root(kBpffsRoot);
  if (statfs(root.c_str(), &info) == 0 && info.f_type == BPF_FS_MAGIC) return Status::Ok();
  if (mount("bpf", root.c_str(), "bpf", 0, nullptr) != 0) {
    return Status::FromErrno(errno, "mounting bpffs at " + root);
  }
  return Status::Ok();
}

std::string NodePinDir(std::string_view node_name) {
  return std::string(kPinParent) + "/" + std::string(node_name);
}

Status CreateNodePinDir(std::string_view node_name) {
  std::error_code ec;
  fs::create_directories(NodePinDir(node_name), ec);
  if (ec) return Status::FromErrno(ec.value(), "creating " + NodePinDir(node_name));
  return Status::Ok();
}

Status RemoveNodePinDir(std::string_view node_name) {
  std::error_code ec;
  fs::remove_all(NodePinDir(node_name), ec);
  if (ec) return Status::FromErrno(ec.value(), "removing " + NodePinDir(node_name));
  // The shared parent goes with its last node; another node's dir keeps it.
  if (fs::is_empty(kPinParent, ec) && !ec) fs::remove(kPinParent, ec);
  return Status::Ok();
}

}  // namespace kubedp::datapath
