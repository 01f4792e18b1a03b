/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Attach point: none; the agent runs this syscall program (BPF_PROG_RUN)
 * during its conntrack sweep. The agent reads kdp_ct a batch at a time and
 * hands over the records that looked expired; each is deleted here only if
 * it is still expired, so a flow refreshed since the read is never removed.
 * One batch per call keeps every call short: a single in-kernel walk of a
 * million records held a CPU for a third of a second.
 */
#include "lib/common.h"
#include "lib/conntrack.h"

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, KDP_GC_BATCH);
  __type(key, __u32);
  __type(value, struct kdp_ct_key);
} kdp_gc_candidates SEC(".maps");

struct kdp_gc_loop {
  __u64 now_ns;
  __u32 removed;
};

static long kdp_expire_candidate(__u32 index, struct kdp_gc_loop* loop) {
  struct kdp_ct_key* key = bpf_map_lookup_elem(&kdp_gc_candidates, &index);
  if (!key) return 1; /* stop */
  struct kdp_ct_entry* entry = bpf_map_lookup_elem(&kdp_ct, key);
  if (entry && entry->expires_ns < loop->now_ns && bpf_map_delete_elem(&kdp_ct, key) == 0) {
    loop->removed++;
  }
  return 0; /* next candidate */
}

SEC("syscall")
int kdp_ct_gc(struct kdp_gc_args* ctx) {
  struct kdp_gc_loop loop = {.now_ns = ctx->now_ns};
  __u32 count = ctx->count;
  if (count > KDP_GC_BATCH) count = KDP_GC_BATCH;
  bpf_loop(count, kdp_expire_candidate, &loop, 0);
  ctx->removed = loop.removed;
  return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
