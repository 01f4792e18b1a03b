#include "datapath/tc.h"

#include <bpf/libbpf.h>

#include <string>

namespace kubedp::datapath {
namespace {

std::string Where(int ifindex) {
  return "ifindex " + std::to_string(ifindex);
}

}  // namespace

Status AttachIngress(int ifindex, int prog_fd) {
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
  int err = bpf_tc_hook_create(&hook);
  if (err && err != -EEXIST) return Status::FromErrno(err, "creating clsact on " + Where(ifindex));
  LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE, .handle = kTcHandle,
              .priority = kTcPriority);
  err = bpf_tc_attach(&hook, &opts);
  if (err) return Status::FromErrno(err, "attaching tc ingress on " + Where(ifindex));
  return Status::Ok();
}

Status DetachIngress(int ifindex) {
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
  LIBBPF_OPTS(bpf_tc_opts, opts, .handle = kTcHandle, .priority = kTcPriority);
  int err = bpf_tc_detach(&hook, &opts);
  if (err && err != -ENOENT && err != -EINVAL && err != -ENODEV) {
    return Status::FromErrno(err, "detaching tc ingress on " + Where(ifindex));
  }
  return Status::Ok();
}

Result<uint32_t> AttachedIngressProgramId(int ifindex) {
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
  LIBBPF_OPTS(bpf_tc_opts, opts, .handle = kTcHandle, .priority = kTcPriority);
  int err = bpf_tc_query(&hook, &opts);
  if (err == -ENOENT || err == -EINVAL) return 0u;
  if (err) return Status::FromErrno(err, "querying tc ingress on " + Where(ifindex));
  return opts.prog_id;
}

}  // namespace kubedp::datapath
