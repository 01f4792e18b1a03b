#include "datapath/tc.h"

#include <bpf/libbpf.h>

#include <string>

namespace kubedp::datapath {
namespace {

std::string Where(int ifindex, TcHook hook) {
  return std::string(hook == TcHook::kIngress ? "tc ingress" : "tc egress") + " of ifindex " +
         std::to_string(ifindex);
}

bpf_tc_attach_point AttachPoint(TcHook hook) {
  return hook == TcHook::kIngress ? BPF_TC_INGRESS : BPF_TC_EGRESS;
}

}  // namespace

Status Attach(int ifindex, int prog_fd, TcHook hook) {
  LIBBPF_OPTS(bpf_tc_hook, tc_hook, .ifindex = ifindex, .attach_point = AttachPoint(hook));
  int err = bpf_tc_hook_create(&tc_hook);
  if (err && err != -EEXIST) {
    return Status::FromErrno(err, "creating clsact for " + Where(ifindex, hook));
  }
  LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE, .handle = kTcHandle,
              .priority = kTcPriority);
  err = bpf_tc_attach(&tc_hook, &opts);
  if (err) return Status::FromErrno(err, "attaching " + Where(ifindex, hook));
  return Status::Ok();
}

Status Detach(int ifindex, TcHook hook) {
  LIBBPF_OPTS(bpf_tc_hook, tc_hook, .ifindex = ifindex, .attach_point = AttachPoint(hook));
  LIBBPF_OPTS(bpf_tc_opts, opts, .handle = kTcHandle, .priority = kTcPriority);
  int err = bpf_tc_detach(&tc_hook, &opts);
  if (err && err != -ENOENT && err != -EINVAL && err != -ENODEV) {
    return Status::FromErrno(err, "detaching " + Where(ifindex, hook));
  }
  return Status::Ok();
}

Result<uint32_t> AttachedProgramId(int ifindex, TcHook hook) {
  LIBBPF_OPTS(bpf_tc_hook, tc_hook, .ifindex = ifindex, .attach_point = AttachPoint(hook));
  LIBBPF_OPTS(bpf_tc_opts, opts, .handle = kTcHandle, .priority = kTcPriority);
  int err = bpf_tc_query(&tc_hook, &opts);
  if (err == -ENOENT || err == -EINVAL) return 0u;
  if (err) return Status::FromErrno(err, "querying " + Where(ifindex, hook));
  return opts.prog_id;
}

}  // namespace kubedp::datapath
