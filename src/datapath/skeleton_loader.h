// The one way a kubedp skeleton is loaded (libbpf-bootstrap's lifecycle):
// open with the node's pin directory, set the node's settings in rodata and
// the configured map sizes, load. Included by the program .cc files only.
#pragma once

#include <bpf/libbpf.h>

#include <string>

#include "common/result.h"
#include "datapath/program_common.h"
#include "kubedp/abi.h"

namespace kubedp::datapath {

template <typename Skeleton>
struct SkeletonOps {
  Skeleton* (*open)(const bpf_object_open_opts*);
  int (*load)(Skeleton*);
  void (*destroy)(Skeleton*);
};

// The loaded skeleton, owned by the caller; nothing is left behind on error.
template <typename Skeleton>
Result<Skeleton*> LoadSkeleton(const SkeletonOps<Skeleton>& ops, const std::string& pin_dir,
                               const kdp_node_config& config, const MapSizes& sizes,
                               const std::string& what) {
  LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_dir.c_str());
  Skeleton* skeleton = ops.open(&opts);
  if (!skeleton) return Status::FromErrno(errno, "opening " + what);
  // Objects without node settings (the conntrack sweep) have no rodata.
  if constexpr (requires { skeleton->rodata->kdp_config; }) skeleton->rodata->kdp_config = config;
  Status sized = ApplyMapSizes(skeleton->obj, sizes);
  if (!sized.ok()) {
    ops.destroy(skeleton);
    return sized;
  }
  if (int err = ops.load(skeleton); err != 0) {
    ops.destroy(skeleton);
    return Status::FromErrno(err, "loading " + what + " (pins in " + pin_dir + ")");
  }
  return skeleton;
}

}  // namespace kubedp::datapath
