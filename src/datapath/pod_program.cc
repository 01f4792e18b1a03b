#include "datapath/pod_program.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "datapath/skeleton_loader.h"
// The skeleton declares its read-only data with the ABI's types.
#include "kubedp/abi.h"
#include "pod.skel.h"

namespace kubedp::datapath {

PodProgram::PodProgram(kdp_pod* skeleton) : skeleton_(skeleton) {}

PodProgram::~PodProgram() {
  kdp_pod__destroy(skeleton_);
}

Result<std::unique_ptr<PodProgram>> PodProgram::Load(const std::string& pin_dir,
                                                     const kdp_node_config& config,
                                                     const MapSizes& sizes) {
  auto loaded = LoadSkeleton<kdp_pod>({kdp_pod__open_opts, kdp_pod__load, kdp_pod__destroy},
                                      pin_dir, config, sizes, "the pod program");
  if (!loaded.ok()) return loaded.status();
  std::unique_ptr<PodProgram> program(new PodProgram(*loaded));

  ProgramFacts facts = FactsOf(program->ProgramFd());
  program->program_id_ = facts.id;
  program->verified_insns_ = facts.verified_instructions;
  return program;
}

int PodProgram::ProgramFd() const {
  return bpf_program__fd(skeleton_->progs.kdp_from_pod);
}
int PodProgram::EndpointsFd() const {
  return bpf_map__fd(skeleton_->maps.kdp_endpoints);
}
int PodProgram::MetricsFd() const {
  return bpf_map__fd(skeleton_->maps.kdp_metrics);
}
int PodProgram::EventsFd() const {
  return bpf_map__fd(skeleton_->maps.kdp_events);
}
int PodProgram::CtFd() const {
  return bpf_map__fd(skeleton_->maps.kdp_ct);
}

int PodProgram::PolicyPeersFd() const {
  return bpf_map__fd(skeleton_->maps.kdp_pol_peers);
}
int PodProgram::PolicyPortsFd() const {
  return bpf_map__fd(skeleton_->maps.kdp_pol_ports);
}

int PodProgram::ServicesFd() const {
  return bpf_map__fd(skeleton_->maps.kdp_services);
}
int PodProgram::BackendsFd() const {
  return bpf_map__fd(skeleton_->maps.kdp_backends);
}
int PodProgram::ServiceFlowsFd() const {
  return bpf_map__fd(skeleton_->maps.kdp_svc_flows);
}

int PodProgram::AffinityFd() const {
  return bpf_map__fd(skeleton_->maps.kdp_affinity);
}

int PodProgram::NatFd() const {
  return bpf_map__fd(skeleton_->maps.kdp_nat);
}
int PodProgram::ServiceMetricsFd() const {
  return bpf_map__fd(skeleton_->maps.kdp_svc_metrics);
}
int PodProgram::MaglevFd() const {
  return bpf_map__fd(skeleton_->maps.kdp_maglev);
}
int PodProgram::NoMasqFd() const {
  return bpf_map__fd(skeleton_->maps.kdp_no_masq);
}

}  // namespace kubedp::datapath
