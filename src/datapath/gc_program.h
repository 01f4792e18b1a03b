// The conntrack sweep: the table is read a batch at a time and the records
// that looked expired are handed to bpf/gc.bpf.c, which deletes each only if
// it is still expired (a flow refreshed since the read stays). Every syscall
// is short, so the CPU is never held for the whole table.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "datapath/program_common.h"
#include "kubedp/abi.h"

struct kdp_gc;

namespace kubedp::datapath {

class GcProgram {
 public:
  static Result<std::unique_ptr<GcProgram>> Load(const std::string& pin_dir,
                                                 const MapSizes& sizes = {});
  ~GcProgram();
  GcProgram(const GcProgram&) = delete;
  GcProgram& operator=(const GcProgram&) = delete;

  struct Swept {
    uint64_t removed = 0;
    uint64_t remaining = 0;  // records the walk saw and left
  };
  // Deletes the records whose lifetime ended before now_ns.
  Result<Swept> ExpireConntrack(uint64_t now_ns) const;

  // The kernel half of a sweep: deletes each of these records (at most
  // KDP_GC_BATCH) that is still expired at now_ns; returns how many went.
  Result<uint64_t> ExpireCandidates(const std::vector<kdp_ct_key>& candidates,
                                    uint64_t now_ns) const;

 private:
  explicit GcProgram(kdp_gc* skeleton) : skeleton_(skeleton) {}
  kdp_gc* skeleton_;
};

}  // namespace kubedp::datapath
