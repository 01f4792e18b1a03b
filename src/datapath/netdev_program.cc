#include "datapath/netdev_program.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "datapath/skeleton_loader.h"
#include "datapath/tc.h"
// The skeleton declares its read-only data with the ABI's types.
#include "kubedp/abi.h"
#include "netdev.skel.h"

namespace kubedp::datapath {

NetdevProgram::NetdevProgram(kdp_netdev* skeleton) : skeleton_(skeleton) {}

NetdevProgram::~NetdevProgram() {
  kdp_netdev__destroy(skeleton_);
}

Result<std::unique_ptr<NetdevProgram>> NetdevProgram::Load(const std::string& pin_dir,
                                                           const kdp_node_config& config,
                                                           const MapSizes& sizes) {
  auto loaded =
      LoadSkeleton<kdp_netdev>({kdp_netdev__open_opts, kdp_netdev__load, kdp_netdev__destroy},
                               pin_dir, config, sizes, "the node device programs");
  if (!loaded.ok()) return loaded.status();
  std::unique_ptr<NetdevProgram> program(new NetdevProgram(*loaded));
  program->ingress_ = FactsOf(program->IngressFd());
  program->egress_ = FactsOf(program->EgressFd());
  return program;
}

Status NetdevProgram::AttachTo(int ifindex) const {
  // Egress first: by the time replies are handled at ingress, the flows that
  // cause them are already translated.
  KUBEDP_RETURN_IF_ERROR(Attach(ifindex, EgressFd(), TcHook::kEgress));
  return Attach(ifindex, IngressFd(), TcHook::kIngress);
}

Status NetdevProgram::DetachFrom(int ifindex) {
  KUBEDP_RETURN_IF_ERROR(Detach(ifindex, TcHook::kIngress));
  return Detach(ifindex, TcHook::kEgress);
}

int NetdevProgram::IngressFd() const {
  return bpf_program__fd(skeleton_->progs.kdp_from_netdev);
}
int NetdevProgram::EgressFd() const {
  return bpf_program__fd(skeleton_->progs.kdp_to_netdev);
}

}  // namespace kubedp::datapath
