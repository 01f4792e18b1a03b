// The conntrack sweep run in the kernel (bpf/gc.bpf.c): every record is
// checked and deleted where it lives, so only records whose lifetime ended
// go, and a million records cost one call.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

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

  // Deletes the records whose lifetime ended before now_ns; returns how many.
  Result<uint64_t> ExpireConntrack(uint64_t now_ns) const;

 private:
  explicit GcProgram(kdp_gc* skeleton) : skeleton_(skeleton) {}
  kdp_gc* skeleton_;
};

}  // namespace kubedp::datapath
