#include "datapath/gc_program.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <vector>

#include "datapath/map_sync.h"
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

Status GcProgram::DeleteIfExpired(const std::vector<kdp_ct_key>& candidates, uint64_t now_ns,
                                  uint64_t* removed) const {
  if (candidates.empty()) return Status::Ok();
  std::vector<uint32_t> slots(candidates.size());
  for (uint32_t i = 0; i < slots.size(); ++i) slots[i] = i;
  uint32_t count = static_cast<uint32_t>(candidates.size());
  if (bpf_map_update_batch(bpf_map__fd(skeleton_->maps.kdp_gc_candidates), slots.data(),
                           candidates.data(), &count, nullptr) != 0) {
    return Status::FromErrno(errno, "handing the sweep its candidates");
  }
  kdp_gc_args args{.now_ns = now_ns, .count = count, .removed = 0};
  // A syscall program's context is copied back into ctx_in (ctx_out must stay unset).
  LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &args, .ctx_size_in = sizeof(args));
  if (bpf_prog_test_run_opts(bpf_program__fd(skeleton_->progs.kdp_ct_gc), &opts) != 0) {
    return Status::FromErrno(errno, "running the conntrack sweep");
  }
  *removed += args.removed;
  return Status::Ok();
}

Result<uint64_t> GcProgram::ExpireConntrack(uint64_t now_ns) const {
  // Each batch read and each hand-over is one short syscall (about 0.1 ms
  // for 256 records): this kernel is not preempted inside a call, so a
  // larger batch delays every task waiting for the CPU by as much.
  constexpr uint32_t kBatch = 256;
  static_assert(kBatch <= KDP_GC_BATCH);
  uint64_t removed = 0;
  Status handed = Status::Ok();
  std::vector<kdp_ct_key> candidates;
  candidates.reserve(kBatch);
  Status walked = ForEachEntry<kdp_ct_key, kdp_ct_entry>(
      bpf_map__fd(skeleton_->maps.kdp_ct), "the conntrack map",
      [&](const kdp_ct_key& key, const kdp_ct_entry& entry) {
        if (entry.expires_ns >= now_ns || !handed.ok()) return;
        candidates.push_back(key);
        if (candidates.size() < kBatch) return;
        handed = DeleteIfExpired(candidates, now_ns, &removed);
        candidates.clear();
      },
      kBatch);
  KUBEDP_RETURN_IF_ERROR(walked);
  KUBEDP_RETURN_IF_ERROR(handed);
  KUBEDP_RETURN_IF_ERROR(DeleteIfExpired(candidates, now_ns, &removed));
  return removed;
}

}  // namespace kubedp::datapath
