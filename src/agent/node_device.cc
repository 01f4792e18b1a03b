// The node device in the agent: which device and address the node uses to
// reach the world, its programs, the masquerade config (ip-masq-agent's
// ConfigMap) written to the datapath, and the NAT table's listing and sweep.
#include <arpa/inet.h>

#include "agent/agent.h"
#include "common/log.h"
#include "datapath/conntrack_map.h"
#include "datapath/nat_maps.h"
#include "datapath/pins.h"
#include "datapath/tc.h"
#include "netdev/netdev.h"

namespace kubedp::agent {
using api::Json;

namespace {

// An ingress NAT entry without its egress half is left this long: the
// datapath writes the ingress half first.
constexpr uint64_t kNatOrphanGraceNs = 5'000'000'000ull;

Json CidrList(const std::vector<Ipv4Cidr>& cidrs) {
  Json out = Json::array();
  for (const auto& cidr : cidrs) out.push_back(cidr.ToString());
  return out;
}

}  // namespace

// The node device is --node-device, or the device of the default route; its
// first IPv4 address is the node's address (NodePorts, masquerade). Without
// one, off-node traffic is left to the kernel and NodePorts are not served.
Status Agent::ResolveNodeDevice() {
  // nodeport_ports_ was read by CheckPortRanges.
  const control::PortRange& nodeports = nodeport_ports_;
  if (config_.snat_port_range.empty()) {
    if (nodeports.last == 65535) {
      return Status::Invalid("--nodeport-range " + nodeports.ToString() +
                             " leaves no ports above it for SNAT: give --snat-port-range");
    }
    snat_ports_ = control::PortRange{static_cast<uint16_t>(nodeports.last + 1), 65535};
  } else {
    auto snat = control::ParsePortRange(config_.snat_port_range);
    if (!snat.ok()) return snat.status().Context("--snat-port-range");
    snat_ports_ = *snat;
  }
  if (auto overlap = control::Overlap(snat_ports_, nodeports)) {
    return Status::Invalid("--snat-port-range " + snat_ports_.ToString() +
                           " overlaps the NodePort range " + nodeports.ToString() + " in " +
                           overlap->ToString() +
                           ": masqueraded replies could be taken for NodePort traffic");
  }

  std::string device = config_.node_device;
  if (device == "none") return Status::Ok();
  if (device.empty()) {
    auto found = netdev::DefaultRouteDevice();
    if (!found.ok()) return found.status();
    device = *found;
    if (device.empty()) {
      log::Warn("no default route and no --node-device: off-node traffic is left to the kernel");
      return Status::Ok();
    }
  }
  auto ifindex = netdev::LinkIndex(device);
  if (!ifindex.ok()) return ifindex.status();
  if (*ifindex == 0) return Status::NotFound("--node-device " + device + ": no such device");
  auto addresses = netdev::Ipv4Addresses(device);
  if (!addresses.ok()) return addresses.status();
  if (addresses->empty()) {
    return Status::Invalid("node device " + device +
                           " has no IPv4 address for NodePorts and masquerade");
  }
  node_device_ = device;
  node_ifindex_ = *ifindex;
  node_ip_ = addresses->front().first;
  return Status::Ok();
}

kdp_node_config Agent::NodeConfig() const {
  return kdp_node_config{.pod_cidr = htonl(pod_cidr_.network),
                         .pod_cidr_mask = htonl(pod_cidr_.Mask()),
                         .router_ip = htonl(allocator_->Gateway()),
                         .ct_timeouts = config_.ct_timeouts,
                         .node_ifindex = static_cast<uint32_t>(node_ifindex_),
                         .node_ip = htonl(node_ip_),
                         .snat_port_min = snat_ports_.first,
                         .snat_port_max = snat_ports_.last,
                         .flags = config_.masquerade ? KDP_NODE_F_MASQUERADE : 0u,
                         .netns_cookie = netns_cookie_};
}

Status Agent::AttachNodeDevice(const kdp_node_config& node_config,
                               const datapath::MapSizes& sizes) {
  if (node_ifindex_ == 0) return Status::Ok();
  auto program =
      datapath::NetdevProgram::Load(datapath::NodePinDir(config_.DatapathId()), node_config, sizes);
  if (!program.ok()) return program.status();
  netdev_program_ = std::move(program).value();
  return netdev_program_->AttachTo(node_ifindex_).Context("node device " + node_device_);
}

// Services for the node's own processes: socket hooks on the cgroup v2 root
// that act only for sockets of the node's network namespace.
Status Agent::AttachSocketHooks(const kdp_node_config& node_config,
                                const datapath::MapSizes& sizes) {
  std::string cgroup = config_.cgroup_root.empty() ? datapath::CgroupV2Root() : config_.cgroup_root;
  if (cgroup.empty() || cgroup == "none") {
    log::Warn("no cgroup v2 hierarchy: the node's processes reach Services only through pods");
    return Status::Ok();
  }
  std::string pin_dir = datapath::NodePinDir(config_.DatapathId());
  auto program = datapath::SockProgram::Load(pin_dir, node_config, sizes);
  if (!program.ok()) return program.status();
  sock_program_ = std::move(program).value();
  KUBEDP_RETURN_IF_ERROR(sock_program_->AttachTo(cgroup, pin_dir));
  sock_cgroup_ = cgroup;
  return Status::Ok();
}

// The masquerade config of the cluster state; a bad one is reported and the
// last good one stays in force.
void Agent::LoadMasqueradeConfig() {
  auto config = control::MasqueradeConfigFrom(manifests_->State());
  if (!config.ok()) {
    masq_error_ = config.status().message();
    RecordError(masq_error_ + " (the last good masquerade config stays)");
    return;
  }
  masq_error_.clear();
  if (*config != masq_config_) {
    log::Info("masquerade config loaded",
              {{"source", config->source},
               {"non_masquerade_cidrs", CidrList(config->non_masquerade_cidrs).dump()}});
  }
  masq_config_ = *config;
}

Status Agent::WriteMasqueradeMap() {
  auto written = datapath::ReconcileNoMasqMap(program_->NoMasqFd(),
                                              control::NoMasqueradePrefixes(masq_config_));
  if (!written.ok()) return written.status().Context("writing the non-masquerade CIDRs");
  next_masq_resync_ =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(masq_config_.resync_interval_ms);
  return Status::Ok();
}

// ip-masq-agent's resyncInterval: the datapath is checked against the config
// (and repaired) this often, besides every config change.
void Agent::ResyncMasqueradePeriodically() {
  if (std::chrono::steady_clock::now() < next_masq_resync_) return;
  if (Status s = WriteMasqueradeMap(); !s.ok()) RecordError(s.message());
}

Json Agent::NodeDeviceSummary() {
  Json out{{"device", node_device_.empty() ? Json(nullptr) : Json(node_device_)},
           {"ifindex", node_ifindex_},
           {"ip", node_ip_ ? Json(FormatIpv4(node_ip_)) : Json(nullptr)},
           {"socket_hooks_cgroup", sock_cgroup_.empty() ? Json(nullptr) : Json(sock_cgroup_)}};
  if (netdev_program_) {
    auto ingress = datapath::AttachedProgramId(node_ifindex_, datapath::TcHook::kIngress);
    auto egress = datapath::AttachedProgramId(node_ifindex_, datapath::TcHook::kEgress);
    out["programs"] = Json::array(
        {Json{{"hook", "tc-ingress"},
              {"program", "kdp_from_netdev"},
              {"id", netdev_program_->IngressFacts().id},
              {"current", ingress.ok() && *ingress == netdev_program_->IngressFacts().id},
              {"verified_instructions", netdev_program_->IngressFacts().verified_instructions}},
         Json{{"hook", "tc-egress"},
              {"program", "kdp_to_netdev"},
              {"id", netdev_program_->EgressFacts().id},
              {"current", egress.ok() && *egress == netdev_program_->EgressFacts().id},
              {"verified_instructions", netdev_program_->EgressFacts().verified_instructions}}});
  }
  return out;
}

Json Agent::MasqueradeSummary() const {
  return Json{{"enabled", config_.masquerade && node_ip_ != 0},
              {"source", masq_config_.source},
              {"non_masquerade_cidrs", CidrList(masq_config_.non_masquerade_cidrs)},
              {"masq_link_local", masq_config_.masq_link_local},
              {"resync_interval_ms", masq_config_.resync_interval_ms},
              {"error", masq_error_.empty() ? Json(nullptr) : Json(masq_error_)}};
}

Json Agent::NatSummary() {
  auto count = datapath::NatMap(program_->NatFd()).Count();
  Json summary = MapFillJson(count.ok() ? *count : 0, config_.nat_max_entries);
  summary["snat_port_range"] = snat_ports_.ToString();
  summary["swept_total"] = nat_swept_total_;
  return summary;
}

Result<Json> Agent::ListNat() {
  auto rows = datapath::NatMap(program_->NatFd()).List();
  if (!rows.ok()) return rows.status();
  Json out = Json::array();
  for (const auto& row : *rows) {
    out.push_back(Json{{"protocol", row.protocol},
                       {"kind", row.kind},
                       {"original", row.original},
                       {"translated", row.translated},
                       {"remote", row.remote},
                       {"age_seconds", row.age_seconds}});
  }
  return out;
}

// After the conntrack sweep: a pair goes with the record of its flow.
void Agent::SweepNat() {
  datapath::NatMap map(program_->NatFd());
  auto removed = map.Sweep(program_->CtFd(), datapath::MonotonicNowNs(), kNatOrphanGraceNs);
  if (!removed.ok()) {
    RecordError("NAT sweep: " + removed.status().message());
    return;
  }
  nat_swept_total_ += removed->removed;
  if (UnderPressure(removed->remaining, config_.nat_max_entries)) {
    RecordError("NAT map " + std::to_string(removed->remaining) + "/" +
                std::to_string(config_.nat_max_entries) + " full: raise --nat-max-entries");
  }
}

Status Agent::DetachNodeDevice(const AgentConfig& config) {
  std::string device = config.node_device;
  if (device == "none") return Status::Ok();
  if (device.empty()) {
    auto found = netdev::DefaultRouteDevice();
    if (!found.ok() || found->empty()) return Status::Ok();
    device = *found;
  }
  auto ifindex = netdev::LinkIndex(device);
  if (!ifindex.ok() || *ifindex == 0) return Status::Ok();
  return datapath::NetdevProgram::DetachFrom(*ifindex);
}

}  // namespace kubedp::agent
