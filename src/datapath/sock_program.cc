#include "datapath/sock_program.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "common/fd.h"
#include "datapath/skeleton_loader.h"
// The skeleton declares its read-only data with the ABI's types.
#include "kubedp/abi.h"
#include "sock.skel.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

namespace kubedp::datapath {

SockProgram::SockProgram(kdp_sock* skeleton) : skeleton_(skeleton) {}

SockProgram::~SockProgram() {
  kdp_sock__destroy(skeleton_);
}

Result<std::unique_ptr<SockProgram>> SockProgram::Load(const std::string& pin_dir,
                                                       const kdp_node_config& config,
                                                       const MapSizes& sizes) {
  auto loaded = LoadSkeleton<kdp_sock>({kdp_sock__open_opts, kdp_sock__load, kdp_sock__destroy},
                                       pin_dir, config, sizes, "the socket hooks");
  if (!loaded.ok()) return loaded.status();
  std::unique_ptr<SockProgram> program(new SockProgram(*loaded));
  return program;
}

namespace {

// The link pinned at path gets prog; without a pin, a new link is made and pinned.
Status AttachOrUpdate(bpf_program* prog, int cgroup_fd, const std::string& path) {
  UniqueFd pinned(bpf_obj_get(path.c_str()));
  if (pinned.valid()) {
    if (bpf_link_update(pinned.get(), bpf_program__fd(prog), nullptr) != 0) {
      return Status::FromErrno(errno, "updating the link " + path);
    }
    return Status::Ok();
  }
  bpf_link* link = bpf_program__attach_cgroup(prog, cgroup_fd);
  if (!link) return Status::FromErrno(errno, std::string("attaching ") + bpf_program__name(prog));
  int err = bpf_link__pin(link, path.c_str());
  // The pin keeps the link (and the attachment) alive without this process.
  bpf_link__disconnect(link);
  bpf_link__destroy(link);
  if (err) return Status::FromErrno(err, "pinning the link " + path);
  return Status::Ok();
}

}  // namespace

Status SockProgram::AttachTo(const std::string& cgroup_path, const std::string& pin_dir) const {
  UniqueFd cgroup(open(cgroup_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!cgroup.valid()) return Status::FromErrno(errno, "opening the cgroup " + cgroup_path);
  for (auto [prog, name] : {std::pair{skeleton_->progs.kdp_sock_connect4, "link_connect4"},
                            std::pair{skeleton_->progs.kdp_sock_sendmsg4, "link_sendmsg4"},
                            std::pair{skeleton_->progs.kdp_sock_recvmsg4, "link_recvmsg4"}}) {
    KUBEDP_RETURN_IF_ERROR(AttachOrUpdate(prog, cgroup.get(), pin_dir + "/" + name));
  }
  return Status::Ok();
}

Result<uint64_t> CurrentNetnsCookie() {
  UniqueFd sock(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!sock.valid()) return Status::FromErrno(errno, "creating a socket");
  uint64_t cookie = 0;
  socklen_t len = sizeof(cookie);
  if (getsockopt(sock.get(), SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) != 0) {
    return Status::FromErrno(errno, "reading the network namespace cookie");
  }
  return cookie;
}

std::string CgroupV2Root() {
  std::ifstream mounts("/proc/self/mounts");
  for (std::string line; std::getline(mounts, line);) {
    std::istringstream fields(line);
    std::string device, path, type;
    fields >> device >> path >> type;
    if (type == "cgroup2") return path;
  }
  return "";
}

}  // namespace kubedp::datapath
