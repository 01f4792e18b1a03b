/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Attach point: none; the agent runs this syscall program (BPF_PROG_RUN) to
 * sweep the conntrack table in the kernel. Each record is checked and deleted
 * where it lives, so a flow refreshed a moment ago is never removed, and a
 * million records cost one call instead of millions of syscalls.
 */
#include "lib/common.h"
#include "lib/conntrack.h"

KDP_INLINE long kdp_expire_one(struct bpf_map* map, struct kdp_ct_key* key,
                               struct kdp_ct_entry* entry, struct kdp_gc_args* args) {
  if (entry->expires_ns < args->now_ns && bpf_map_delete_elem(map, key) == 0) args->removed++;
  return 0; /* next record */
}

SEC("syscall")
int kdp_ct_gc(struct kdp_gc_args* ctx) {
  struct kdp_gc_args args = {.now_ns = ctx->now_ns};
  bpf_for_each_map_elem(&kdp_ct, kdp_expire_one, &args, 0);
  ctx->removed = args.removed;
  return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
