// The program on every pod's host-side veth (bpf/pod.bpf.c), loaded once per
// agent from the skeleton embedded in the binary, with its maps pinned in the
// node's bpffs directory (reused when already there: an agent restart keeps state).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/result.h"
#include "datapath/program_common.h"
#include "kubedp/abi.h"

struct kdp_pod;

namespace kubedp::datapath {

class PodProgram {
 public:
  static Result<std::unique_ptr<PodProgram>> Load(const std::string& pin_dir,
                                                  const kdp_node_config& config,
                                                  const MapSizes& sizes = {});
  ~PodProgram();
  PodProgram(const PodProgram&) = delete;
  PodProgram& operator=(const PodProgram&) = delete;

  int ProgramFd() const;
  int EndpointsFd() const;
  int MetricsFd() const;
  int EventsFd() const;
  int CtFd() const;
  int PolicyPeersFd() const;
  int PolicyPortsFd() const;
  int ServicesFd() const;
  int BackendsFd() const;
  int ServiceFlowsFd() const;
  int AffinityFd() const;
  int NatFd() const;
  int MaglevFd() const;
  int ServiceMetricsFd() const;
  int NoMasqFd() const;
  uint32_t ProgramId() const { return program_id_; }
  // Instructions the verifier processed: the complexity budget tests track.
  uint32_t VerifiedInstructions() const { return verified_insns_; }

 private:
  explicit PodProgram(kdp_pod* skeleton);
  kdp_pod* skeleton_;
  uint32_t program_id_ = 0;
  uint32_t verified_insns_ = 0;
};

}  // namespace kubedp::datapath
