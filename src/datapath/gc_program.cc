#include "datapath/gc_program.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "datapath/skeleton_loader.h"
#include "gc.skel.h"

namespace kubedp::datapath {

GcProgram::~GcProgram() {
  kdp_gc__destroy(skeleton_);
}

Result<std::unique_ptr<GcProgram>> GcProgram::Load(const std::string& pin_dir,
                                                   const MapSizes& sizes) {
  auto loaded = LoadSkeleton<kdp_gc>({kdp_gc__open_opts, kdp_gc__load, kdp_gc__destroy}, pin_dir,
                                     kdp_node_config{}, sizes, "the conntrack sweep");
  if (!loaded.ok()) return loaded.status();
  return std::unique_ptr<GcProgram>(new GcProgram(*loaded));
}

Result<uint64_t> GcProgram::ExpireConntrack(uint64_t now_ns) const {
  kdp_gc_args args{.now_ns = now_ns, .removed = 0};
  // A syscall program's context is copied back into ctx_in (ctx_out must stay unset).
  LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &args, .ctx_size_in = sizeof(args));
  if (bpf_prog_test_run_opts(bpf_program__fd(skeleton_->progs.kdp_ct_gc), &opts) != 0) {
    return Status::FromErrno(errno, "running the conntrack sweep");
  }
  return args.removed;
}

}  // namespace kubedp::datapath
