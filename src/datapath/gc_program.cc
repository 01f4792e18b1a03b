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

Result<uint64_t> GcProgram::ExpireCandidates(const std::vector<kdp_ct_key>& candidates,
                                             uint64_t now_ns) const {
  if (candidates.empty()) return 0;
  if (candidates.size() > KDP_GC_BATCH)
    return Status::Invalid("more sweep candidates than a batch");
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
  return args.removed;
}

Result<GcProgram::Swept> GcProgram::ExpireConntrack(uint64_t now_ns) const {
  // Each batch read and each hand-over is one short syscall (about 0.1 ms
  // for 256 records): this kernel is not preempted inside a call, so a
  // larger batch delays every task waiting for the CPU by as much.
  constexpr uint32_t kBatch = 256;
  static_assert(kBatch <= KDP_GC_BATCH);
  Swept swept;
  uint64_t seen = 0;
  Status handed = Status::Ok();
  std::vector<kdp_ct_key> candidates;
  candidates.reserve(kBatch);
  auto hand_over = [&] {
    auto removed = ExpireCandidates(candidates, now_ns);
    if (removed.ok()) swept.removed += *removed;
    candidates.clear();
    return removed.status();
  };
  Status walked = ForEachEntry<kdp_ct_key, kdp_ct_entry>(
      bpf_map__fd(skeleton_->maps.kdp_ct), "the conntrack map",
      [&](const kdp_ct_key& key, const kdp_ct_entry& entry) {
        ++seen;
        if (entry.expires_ns >= now_ns || !handed.ok()) return;
        candidates.push_back(key);
        if (candidates.size() == kBatch) handed = hand_over();
      },
      kBatch);
  KUBEDP_RETURN_IF_ERROR(walked);
  KUBEDP_RETURN_IF_ERROR(handed);
  KUBEDP_RETURN_IF_ERROR(hand_over());
  // Counted by the walk itself: no second pass over the table.
  swept.remaining = seen - swept.removed;
  return swept;
}

}  // namespace kubedp::datapath
