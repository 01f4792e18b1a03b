#include "agent/agent.h"

#include <arpa/inet.h>
#include <malloc.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/log.h"
#include "common/reasons.h"
#include "control/conntrack.h"
#include "control/endpoints.h"
#include "control/policy_compiler.h"
#include "control/policy_logging.h"
#include "control/policy_oracle.h"
#include "control/port_ranges.h"
#include "control/services.h"
#include "datapath/event_reader.h"
#include "datapath/maps.h"
#include "datapath/pins.h"
#include "datapath/policy_maps.h"
#include "datapath/service_maps.h"
#include "datapath/tc.h"
#include "netdev/netdev.h"

namespace kubedp::agent {
namespace fs = std::filesystem;
using api::Json;

namespace {

constexpr size_t kRecentErrors = 20;
constexpr size_t kRecentDrops = 50;

Status EnterNetns(const std::string& path) {
  auto fd = netdev::OpenNetns(path);
  if (!fd.ok()) return fd.status();
  // Before any thread exists, so the whole process lives in the node's namespace.
  if (setns(fd->get(), CLONE_NEWNET) != 0) return Status::FromErrno(errno, "joining " + path);
  return Status::Ok();
}

Status MakeDir(const std::string& dir, fs::perms perms) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::FromErrno(ec.value(), "creating " + dir);
  fs::permissions(dir, perms, ec);
  return Status::Ok();
}

Result<std::string> StringParam(const Json& params, const char* name) {
  auto it = params.find(name);
  if (it == params.end() || !it->is_string() || it->get<std::string>().empty()) {
    return Status::Invalid(std::string("parameter '") + name + "' is missing or not a string");
  }
  return it->get<std::string>();
}

control::EndpointRecord ToRecord(const ipam::Allocation& allocation) {
  control::EndpointRecord record{
      .ip = allocation.ip, .endpoint_id = allocation.endpoint_id, .ifindex = allocation.ifindex};
  if (auto mac = ParseMac(allocation.pod_mac); mac.ok()) record.pod_mac = *mac;
  if (auto mac = ParseMac(allocation.host_mac); mac.ok()) record.host_mac = *mac;
  return record;
}

std::string Now() {
  auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return text;
}

}  // namespace

Agent::Agent(AgentConfig config)
    : config_(std::move(config)), started_(std::chrono::steady_clock::now()) {}

Agent::~Agent() {
  if (server_) ::unlink(server_->path().c_str());
}

Result<std::unique_ptr<Agent>> Agent::Start(const AgentConfig& config) {
  std::unique_ptr<Agent> agent(new Agent(config));
  KUBEDP_RETURN_IF_ERROR(agent->Init());
  return agent;
}

Status Agent::Init() {
  if (config_.node_name.empty()) return Status::Invalid("--node-name is required");
  if (!config_.netns.empty()) KUBEDP_RETURN_IF_ERROR(EnterNetns(config_.netns));
  KUBEDP_RETURN_IF_ERROR(MakeDir(config_.state_dir, fs::perms::owner_all));
  KUBEDP_RETURN_IF_ERROR(MakeDir(config_.run_dir, fs::perms::owner_all));

  policy_logger_ = std::make_unique<PolicyLogger>(config_.node_name, config_.policy_log_file);
  if (!config_.manifest_dir.empty()) {
    manifests_ = std::make_unique<source::ManifestDirectory>(config_.manifest_dir);
    ReloadManifests();
    auto watcher = source::DirectoryWatcher::Open(config_.manifest_dir);
    if (!watcher.ok()) return watcher.status();
    watcher_.emplace(std::move(watcher).value());
  }
  KUBEDP_RETURN_IF_ERROR(ResolvePodCidr());
  KUBEDP_RETURN_IF_ERROR(CheckPortRanges());
  KUBEDP_RETURN_IF_ERROR(ResolveNodeDevice());

  auto store = ipam::Store::Open(config_.state_dir + "/endpoints.db");
  if (!store.ok()) return store.status();
  store_ = std::move(store).value();
  auto allocator = ipam::Allocator::Create(*store_, pod_cidr_);
  if (!allocator.ok()) return allocator.status();
  allocator_.emplace(std::move(allocator).value());

  KUBEDP_RETURN_IF_ERROR(datapath::EnsureBpffsMounted());
  KUBEDP_RETURN_IF_ERROR(datapath::CreateNodePinDir(config_.DatapathId()));
  auto cookie = datapath::CurrentNetnsCookie();
  if (!cookie.ok()) return cookie.status();
  netns_cookie_ = *cookie;
  kdp_node_config node_config = NodeConfig();
  datapath::MapSizes sizes{.ct_max_entries = config_.ct_max_entries,
                           .nat_max_entries = config_.nat_max_entries};
  auto program =
      datapath::PodProgram::Load(datapath::NodePinDir(config_.DatapathId()), node_config, sizes);
  if (!program.ok()) return program.status();
  program_ = std::move(program).value();
  auto gc = datapath::GcProgram::Load(datapath::NodePinDir(config_.DatapathId()), sizes);
  if (!gc.ok()) return gc.status();
  gc_program_ = std::move(gc).value();
  auto sweeper = datapath::ConntrackSweeper::Start(*gc_program_);
  if (!sweeper.ok()) return sweeper.status();
  ct_sweeper_ = std::move(sweeper).value();
  KUBEDP_RETURN_IF_ERROR(AttachNodeDevice(node_config, sizes));
  if (config_.cgroup_root != "none") KUBEDP_RETURN_IF_ERROR(AttachSocketHooks(node_config, sizes));

  auto events = datapath::EventReader::Open(
      program_->EventsFd(), [this](const void* data, size_t size) { OnEvent(data, size); });
  if (!events.ok()) return events.status();
  events_ = std::move(events).value();

  KUBEDP_RETURN_IF_ERROR(EnsureRouterDevice());
  KUBEDP_RETURN_IF_ERROR(RestoreEndpoints());

  auto server = api::RpcServer::Listen(api::SocketPath(config_.run_dir));
  if (!server.ok()) return server.status();
  server_.emplace(std::move(server).value());
  log::Info("agent ready", {{"node", config_.node_name},
                            {"pod_cidr", pod_cidr_.ToString()},
                            {"node_device", node_device_.empty() ? "none" : node_device_},
                            {"node_ip", node_ip_ ? FormatIpv4(node_ip_) : "none"},
                            {"socket", server_->path()},
                            {"pins", datapath::NodePinDir(config_.DatapathId())},
                            {"verified_insns", std::to_string(program_->VerifiedInstructions())}});
  return Status::Ok();
}

Status Agent::ResolvePodCidr() {
  std::string cidr = config_.pod_cidr;
  if (cidr.empty() && manifests_) {
    const auto& nodes = manifests_->State().nodes;
    if (auto it = nodes.find(config_.node_name); it != nodes.end() && !it->second.pod_cidrs.empty())
      cidr = it->second.pod_cidrs.front();
  }
  if (cidr.empty()) {
    return Status::Invalid(
        "no pod CIDR for node " + config_.node_name +
        ": give --pod-cidr or a Node object with spec.podCIDR in " +
        (config_.manifest_dir.empty() ? "--manifest-dir" : config_.manifest_dir));
  }
  auto parsed = Ipv4Cidr::Parse(cidr);
  if (!parsed.ok()) return parsed.status().Context("pod CIDR of node " + config_.node_name);
  pod_cidr_ = *parsed;
  return Status::Ok();
}

namespace {

Result<std::string> ReadSysctl(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::FromErrno(errno, "reading " + path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

// An ephemeral port inside the NodePort range is a connection whose replies a
// NodePort could claim: reserve the range and report any overlap.
Status Agent::CheckPortRanges() {
  const std::string kEphemeral = "/proc/sys/net/ipv4/ip_local_port_range";
  const std::string kReserved = "/proc/sys/net/ipv4/ip_local_reserved_ports";
  auto nodeports = control::ParsePortRange(config_.nodeport_range);
  if (!nodeports.ok()) return nodeports.status().Context("--nodeport-range");
  nodeport_ports_ = *nodeports;
  auto ephemeral_text = ReadSysctl(kEphemeral);
  if (!ephemeral_text.ok()) return ephemeral_text.status();
  auto ephemeral = control::ParsePortRange(*ephemeral_text);
  if (!ephemeral.ok()) return ephemeral.status().Context(kEphemeral);

  port_checks_ = Json{{"nodeport_range", nodeports->ToString()},
                      {"ephemeral_range", ephemeral->ToString()},
                      {"overlap", nullptr}};
  if (auto overlap = control::Overlap(*nodeports, *ephemeral)) {
    std::string warning = "ephemeral ports " + ephemeral->ToString() + " (" + kEphemeral +
                          ") overlap the NodePort range " + nodeports->ToString() + " in " +
                          overlap->ToString();
    port_checks_["overlap"] = overlap->ToString();
    RecordError(warning);
  }
  if (config_.reserve_nodeport_range) {
    auto reserved = ReadSysctl(kReserved);
    if (!reserved.ok()) return reserved.status();
    std::string wanted = control::AddReservedRange(*reserved, *nodeports);
    std::string current(*reserved);
    while (!current.empty() && std::isspace(static_cast<unsigned char>(current.back()))) {
      current.pop_back();
    }
    if (wanted != current) {
      std::ofstream(kReserved) << wanted;
      log::Info("NodePort range reserved from ephemeral ports", {{"reserved", wanted}});
    }
    auto now = ReadSysctl(kReserved);
    port_checks_["reserved_ports"] = now.ok() ? *now : "";
  }
  return Status::Ok();
}

// The pods' gateway address lives on a veth pair of the node (kubedp_host and
// its peer kubedp_net) so the node answers it and can reach pods from its own
// stack (kubelet probes). A veth rather than a dummy: not every kernel has dummy.
Status Agent::EnsureRouterDevice() {
  auto index = netdev::LinkIndex(kRouterDevice);
  if (!index.ok()) return index.status();
  if (*index == 0) {
    auto here = netdev::OpenNetns("/proc/thread-self/ns/net");
    if (!here.ok()) return here.status();
    KUBEDP_RETURN_IF_ERROR(netdev::CreateVethPair(kRouterDevice, kRouterPeer, here->get()));
  }
  auto present = netdev::HasAddress(kRouterDevice, allocator_->Gateway(), 32);
  if (!present.ok()) return present.status();
  if (!*present) {
    KUBEDP_RETURN_IF_ERROR(netdev::AddAddress(kRouterDevice, allocator_->Gateway(), 32));
  }
  KUBEDP_RETURN_IF_ERROR(netdev::SetLinkUp(kRouterPeer));
  return netdev::SetLinkUp(kRouterDevice);
}

// After a restart: every endpoint in the store whose veth still exists gets the
// freshly loaded program (an atomic replace) and its map entry.
Status Agent::RestoreEndpoints() {
  auto allocations = store_->List();
  if (!allocations.ok()) return allocations.status();
  for (const auto& allocation : *allocations) {
    if (allocation.host_ifname.empty()) continue;
    auto ifindex = netdev::LinkIndex(allocation.host_ifname);
    if (!ifindex.ok() || *ifindex == 0) {
      log::Warn("endpoint interface gone",
                {{"pod", allocation.pod_namespace + "/" + allocation.pod_name},
                 {"interface", allocation.host_ifname}});
      continue;
    }
    if (*ifindex != allocation.ifindex) {
      KUBEDP_RETURN_IF_ERROR(store_->UpdateEndpoint(allocation.container_id, allocation.ifname,
                                                    allocation.host_ifname, *ifindex,
                                                    allocation.pod_mac, allocation.host_mac));
    }
    if (auto status = datapath::AttachIngress(*ifindex, program_->ProgramFd()); !status.ok()) {
      RecordError(status.message());
    }
  }
  return ReconcileDatapath();
}

// Endpoints and NetworkPolicy, compiled from the store and the cluster state
// and written as differences. Rules go in before the endpoint flags that make
// a pod isolated, so a newly selected pod never meets an empty rule set.
Status Agent::ReconcileDatapath() {
  auto allocations = store_->List();
  if (!allocations.ok()) return allocations.status();
  std::vector<control::EndpointRecord> records;
  std::vector<control::LocalEndpoint> locals;
  for (const auto& allocation : *allocations) {
    records.push_back(ToRecord(allocation));
    if (allocation.ifindex > 0) {
      locals.push_back({allocation.pod_namespace + "/" + allocation.pod_name,
                        allocation.endpoint_id, allocation.ip});
    }
  }
  control::PolicyTables policy =
      manifests_ ? control::CompilePolicy(manifests_->State(), locals) : control::PolicyTables{};
  auto written =
      datapath::ReconcilePolicyMaps(program_->PolicyPeersFd(), program_->PolicyPortsFd(), policy);
  if (!written.ok()) return written.status();
  for (const auto& error : policy.errors) RecordError("policy: " + error);

  control::ServiceTable services =
      manifests_ ? control::CompileServices(control::WithDerivedEndpointSlices(manifests_->State()))
                 : control::ServiceTable{};
  auto programmed = datapath::ReconcileServiceMaps(ServiceMaps(), services, config_.node_name,
                                                   node_ip_, config_.lb_algorithm);
  if (!programmed.ok()) return programmed.status();
  for (const auto& error : services.errors) RecordError("service: " + error);

  control::EndpointTable endpoints = control::CompileEndpoints(records);
  for (auto& [ip, info] : endpoints) {
    auto flags = policy.endpoint_flags.find(info.endpoint_id);
    if (flags != policy.endpoint_flags.end()) info.flags |= flags->second;
  }
  datapath::EndpointMap map(program_->EndpointsFd());
  KUBEDP_RETURN_IF_ERROR(map.Reconcile(endpoints));
  KUBEDP_RETURN_IF_ERROR(WriteMasqueradeMap());
  ++policy_revision_;
  policy_summary_ = Json{{"revision", policy_revision_},
                         {"isolated_endpoints", policy.endpoint_flags.size()},
                         {"peer_entries", written->peer_entries},
                         {"port_entries", written->port_entries},
                         {"errors", policy.errors}};
  return Status::Ok();
}

void Agent::ReloadManifests() {
  auto started = std::chrono::steady_clock::now();
  auto report = manifests_->Reload();
  manifest_errors_.clear();
  for (const auto& error : report.errors) {
    log::Warn("manifest rejected, last good objects stay in force",
              {{"path", error.path}, {"reason", error.message}});
    manifest_errors_.push_back(Json{{"path", error.path}, {"message", error.message}});
  }
  if (!report.changed) return;
  auto read = std::chrono::steady_clock::now();
  auto logging = control::LoggingConfigFrom(manifests_->State());
  if (logging.ok()) {
    policy_logger_->SetConfig(*logging);
  } else {
    RecordError(logging.status().message() + " (the last good logging config stays)");
  }
  LoadMasqueradeConfig();
  if (program_) {
    if (Status s = ReconcileDatapath(); !s.ok())
      RecordError("applying cluster state: " + s.message());
  }
  // Decoding large states leaves freed heap behind; give it back.
  malloc_trim(0);
  auto applied = std::chrono::steady_clock::now();
  auto ms = [](auto from, auto to) {
    return std::chrono::duration<double, std::milli>(to - from).count();
  };
  last_apply_ = Json{{"read_ms", ms(started, read)}, {"datapath_ms", ms(read, applied)}};
  ++cluster_generation_;
  const auto& state = manifests_->State();
  log::Info("cluster state applied",
            {{"pods", std::to_string(state.pods.size())},
             {"services", std::to_string(state.services.size())},
             {"policies", std::to_string(state.network_policies.size())},
             {"read_ms", std::to_string(static_cast<int>(ms(started, read)))},
             {"datapath_ms", std::to_string(static_cast<int>(ms(read, applied)))}});
}

void Agent::RecordError(const std::string& message) {
  log::Error("error", {{"reason", message}});
  recent_errors_.push_back(Json{{"time", Now()}, {"message", message}});
  while (recent_errors_.size() > kRecentErrors) recent_errors_.pop_front();
}

namespace {

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Connection ConnectionOf(uint32_t saddr, uint32_t daddr, uint16_t sport, uint16_t dport,
                        uint8_t protocol) {
  return Connection{FormatIpv4(ntohl(saddr)), FormatIpv4(ntohl(daddr)), ntohs(sport), ntohs(dport),
                    control::ProtocolName(protocol)};
}

}  // namespace

void Agent::OnEvent(const void* data, size_t size) {
  if (size < sizeof(kdp_event_header)) return;
  const auto* header = static_cast<const kdp_event_header*>(data);
  static const k8s::ClusterState kEmpty;
  const k8s::ClusterState& state = manifests_ ? manifests_->State() : kEmpty;
  if (header->type == KDP_EVENT_POLICY_ALLOW && size >= sizeof(kdp_policy_allow_event)) {
    const auto* event = static_cast<const kdp_policy_allow_event*>(data);
    policy_logger_->Allow(
        state,
        ConnectionOf(event->saddr, event->daddr, event->sport, event->dport, event->protocol),
        event->isolated & 2, WallMs());
    return;
  }
  if (header->type != KDP_EVENT_DROP || size < sizeof(kdp_drop_event)) return;
  const auto* event = static_cast<const kdp_drop_event*>(data);
  if (event->reason == KDP_DROP_POLICY_EGRESS || event->reason == KDP_DROP_POLICY_INGRESS) {
    policy_logger_->Deny(
        state,
        ConnectionOf(event->saddr, event->daddr, event->sport, event->dport, event->protocol),
        event->reason == KDP_DROP_POLICY_INGRESS, WallMs());
  }
  recent_drops_.push_back(Json{
      {"time", Now()},
      {"reason", ReasonLabel(event->reason)},
      {"direction", DirectionLabel(event->direction)},
      {"source", FormatIpv4(ntohl(event->saddr))},
      {"destination", FormatIpv4(ntohl(event->daddr))},
      {"protocol", event->protocol},
      {"source_port", ntohs(event->sport)},
      {"destination_port", ntohs(event->dport)},
      {"ifindex", event->ifindex},
  });
  while (recent_drops_.size() > kRecentDrops) recent_drops_.pop_front();
}

namespace {

std::string AlgorithmName(control::LbAlgorithm algorithm, control::LbAlgorithm node_default) {
  if (algorithm == control::LbAlgorithm::kDefault) algorithm = node_default;
  return algorithm == control::LbAlgorithm::kMaglev ? "maglev" : "random";
}

}  // namespace

datapath::ServiceMapFds Agent::ServiceMaps() const {
  return {program_->ServicesFd(), program_->BackendsFd(), program_->MaglevFd(),
          program_->ServiceMetricsFd()};
}

// What the datapath counted for a frontend, over its scopes.
Json Agent::FrontendCounters(const control::Frontend& frontend) const {
  datapath::ServiceCounters total;
  for (const auto& key : datapath::ServiceKeysOf(frontend, node_ip_)) {
    auto counters = datapath::ReadServiceCounters(ServiceMaps(), key);
    if (!counters.ok()) continue;
    total.connections += counters->connections;
    total.packets += counters->packets;
    total.bytes += counters->bytes;
    total.refused += counters->refused;
  }
  return Json{{"connections", total.connections},
              {"packets", total.packets},
              {"bytes", total.bytes},
              {"refused", total.refused}};
}

// Services as the datapath will see them: EndpointSlices given in the
// manifests, or derived from selectors and pod readiness where none are.
Result<Json> Agent::ListServices() {
  if (!manifests_) return Json{{"services", Json::array()}, {"errors", Json::array()}};
  control::ServiceTable table =
      control::CompileServices(control::WithDerivedEndpointSlices(manifests_->State()));
  Json frontends = Json::array();
  for (const auto& f : table.frontends) {
    Json backends = Json::array();
    for (const auto& b : f.backends) {
      std::string state = b.ready ? "ready" : b.terminating ? "terminating" : "not-ready";
      backends.push_back(Json{{"ip", FormatIpv4(b.ip)},
                              {"port", b.port},
                              {"state", state},
                              {"serving", b.serving},
                              {"node", b.node_name},
                              {"pod", b.pod}});
    }
    frontends.push_back(Json{{"service", f.service},
                             {"kind", control::FrontendKindName(f.kind)},
                             {"ip", f.ip == 0 ? "*" : FormatIpv4(f.ip)},
                             {"port", f.port},
                             {"protocol", control::ProtocolName(f.protocol)},
                             {"port_name", f.port_name},
                             {"external_traffic_local", f.external_local},
                             {"internal_traffic_local", f.internal_local},
                             {"affinity_timeout_seconds", f.affinity_timeout_seconds},
                             {"algorithm", AlgorithmName(f.algorithm, config_.lb_algorithm)},
                             {"counters", FrontendCounters(f)},
                             {"backends", backends}});
  }
  return Json{{"services", frontends}, {"errors", table.errors}};
}

void Agent::FlushPolicyLog() {
  auto now = std::chrono::steady_clock::now();
  if (now < next_log_flush_) return;
  next_log_flush_ = now + std::chrono::milliseconds(500);
  policy_logger_->Flush(WallMs());
}

Status Agent::Run() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigprocmask(SIG_BLOCK, &signals, nullptr);
  UniqueFd signal_fd(signalfd(-1, &signals, SFD_CLOEXEC));
  if (!signal_fd.valid()) return Status::FromErrno(errno, "creating signalfd");

  auto handler = [this](const std::string& method, const Json& params) {
    return Handle(method, params);
  };
  while (true) {
    std::vector<pollfd> fds{{signal_fd.get(), POLLIN, 0},
                            {server_->fd(), POLLIN, 0},
                            {events_->fd(), POLLIN, 0},
                            {ct_sweeper_->fd(), POLLIN, 0}};
    if (watcher_) fds.push_back({watcher_->fd(), POLLIN, 0});
    ReclaimPeriodically();
    SweepConntrackPeriodically();
    ResyncMasqueradePeriodically();
    FlushPolicyLog();
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::min({next_reclaim_, next_ct_sweep_, next_log_flush_, next_masq_resync_}) -
        std::chrono::steady_clock::now());
    int timeout_ms = static_cast<int>(std::max<int64_t>(wait.count(), 0));
    if (poll(fds.data(), fds.size(), timeout_ms) < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "waiting for events");
    }
    if (fds[0].revents) {
      log::Info("agent stopping; the datapath keeps forwarding");
      return Status::Ok();
    }
    if (fds[1].revents) server_->ServeOne(handler);
    if (fds[2].revents) events_->Consume();
    if (fds[3].revents) ConsumeConntrackSweep();
    if (fds.size() > 4 && fds[4].revents && watcher_->Drain()) ReloadManifests();
  }
}

Result<Json> Agent::Handle(const std::string& method, const Json& params) {
  Result<Json> result = Status::Invalid("unknown method '" + method + "'");
  if (method == "health") {
    // Cheap (no map walks): the lab polls it while it waits for the agent.
    result = Json{{"node", config_.node_name}, {"healthy", true}, {"cluster", ClusterCounts()}};
  } else if (method == "status") {
    result = DescribeStatus();
  } else if (method == "endpoint.create") {
    result = CreateEndpoint(params);
  } else if (method == "endpoint.delete") {
    result = DeleteEndpoint(params);
  } else if (method == "endpoint.list") {
    result = ListEndpoints();
  } else if (method == "endpoint.get") {
    result = GetEndpoint(params);
  } else if (method == "metrics") {
    result = MetricsJson();
  } else if (method == "ipam.list") {
    result = ListAllocations();
  } else if (method == "ipam.reclaim") {
    result = Reclaim(params);
  } else if (method == "ipam.gc") {
    result = GarbageCollect(params);
  } else if (method == "ct.list") {
    result = ListConntrack(params);
  } else if (method == "ct.flush") {
    result = FlushConntrack();
  } else if (method == "nat.list") {
    result = ListNat();
  } else if (method == "policy.trace") {
    result = TracePolicy(params);
  } else if (method == "service.list") {
    result = ListServices();
  } else if (method == "monitor.poll") {
    result = Json{{"records", policy_logger_->Poll(params.value("after", uint64_t{0}))}};
  } else if (method == "ready") {
    result = Readiness();
  }
  if (!result.ok()) RecordError(method + ": " + result.status().message());
  return result;
}

Result<Json> Agent::CreateEndpoint(const Json& params) {
  ipam::AllocationRequest request;
  for (auto [field, name] :
       {std::pair{&request.container_id, "container_id"}, std::pair{&request.ifname, "ifname"},
        std::pair{&request.netns, "netns"}, std::pair{&request.pod_namespace, "pod_namespace"},
        std::pair{&request.pod_name, "pod_name"}}) {
    auto value = StringParam(params, name);
    if (!value.ok()) return value.status();
    *field = *value;
  }
  auto host_ifname = StringParam(params, "host_ifname");
  if (!host_ifname.ok()) return host_ifname.status();
  auto pod_mac = StringParam(params, "pod_mac");
  if (!pod_mac.ok()) return pod_mac.status();
  if (auto mac = ParseMac(*pod_mac); !mac.ok()) return mac.status().Context("pod_mac");

  auto allocation = allocator_->Allocate(request);
  if (!allocation.ok()) {
    if (allocation.status().code() == ENOSPC) ++exhaustion_events_;
    return allocation.status();
  }

  // Everything after the reservation is undone if a later step fails.
  auto attach = [&]() -> Status {
    auto ifindex = netdev::LinkIndex(*host_ifname);
    if (!ifindex.ok()) return ifindex.status();
    if (*ifindex == 0) return Status::NotFound("host interface " + *host_ifname + " not found");
    auto host_mac = netdev::LinkMac(*host_ifname);
    if (!host_mac.ok()) return host_mac.status();
    KUBEDP_RETURN_IF_ERROR(store_->UpdateEndpoint(request.container_id, request.ifname,
                                                  *host_ifname, *ifindex, *pod_mac,
                                                  FormatMac(*host_mac)));
    KUBEDP_RETURN_IF_ERROR(netdev::AddLinkRoute(*host_ifname, allocation->ip, 32));
    KUBEDP_RETURN_IF_ERROR(datapath::AttachIngress(*ifindex, program_->ProgramFd()));
    return ReconcileDatapath();
  };
  if (Status status = attach(); !status.ok()) {
    (void)allocator_->Release(request.container_id, request.ifname);
    (void)ReconcileDatapath();
    return status.Context("attaching endpoint " + request.pod_namespace + "/" + request.pod_name);
  }
  auto stored = store_->Find(request.container_id, request.ifname);
  if (!stored.ok() || !stored->has_value()) return Status::Error(EIO, "endpoint vanished");
  const ipam::Allocation& endpoint = **stored;
  log::Info("endpoint created", {{"pod", request.pod_namespace + "/" + request.pod_name},
                                 {"ip", FormatIpv4(endpoint.ip)},
                                 {"interface", endpoint.host_ifname},
                                 {"endpoint_id", std::to_string(endpoint.endpoint_id)}});
  return Json{{"ip", FormatIpv4(endpoint.ip)},
              {"prefix_length", 32},
              {"gateway", FormatIpv4(allocator_->Gateway())},
              {"pod_cidr", pod_cidr_.ToString()},
              {"host_mac", endpoint.host_mac},
              {"endpoint_id", endpoint.endpoint_id}};
}

Result<Json> Agent::DeleteEndpoint(const Json& params) {
  auto container_id = StringParam(params, "container_id");
  if (!container_id.ok()) return container_id.status();
  auto ifname = StringParam(params, "ifname");
  if (!ifname.ok()) return ifname.status();
  auto found = store_->Find(*container_id, *ifname);
  if (!found.ok()) return found.status();
  if (found->has_value()) {
    KUBEDP_RETURN_IF_ERROR(ReleaseEndpoint(**found, "CNI DEL"));
  }
  return Json{{"released", found->has_value()}};
}

// The one way out for an endpoint: route, veth, address, map entry, in that
// order, so a failure part way leaves the address held (retried later) rather
// than handed out while its old veth still exists.
Status Agent::ReleaseEndpoint(const ipam::Allocation& endpoint, const std::string& reason) {
  if (!endpoint.host_ifname.empty()) {
    (void)netdev::DeleteLinkRoute(endpoint.host_ifname, endpoint.ip, 32);
    KUBEDP_RETURN_IF_ERROR(netdev::DeleteLink(endpoint.host_ifname));
  }
  KUBEDP_RETURN_IF_ERROR(allocator_->Release(endpoint.container_id, endpoint.ifname));
  KUBEDP_RETURN_IF_ERROR(ReconcileDatapath());
  log::Info("address released", {{"pod", endpoint.pod_namespace + "/" + endpoint.pod_name},
                                 {"ip", FormatIpv4(endpoint.ip)},
                                 {"container", endpoint.container_id.substr(0, 12)},
                                 {"reason", reason}});
  return Status::Ok();
}

Result<Json> Agent::ListEndpoints() {
  auto allocations = store_->List();
  if (!allocations.ok()) return allocations.status();
  Json list = Json::array();
  for (const auto& a : *allocations) {
    Json labels = Json::object();
    if (manifests_) {
      const auto& pods = manifests_->State().pods;
      if (auto it = pods.find(a.pod_namespace + "/" + a.pod_name); it != pods.end()) {
        labels = it->second.meta.labels;
      }
    }
    auto attached =
        a.ifindex > 0 ? datapath::AttachedIngressProgramId(a.ifindex) : Result<uint32_t>(0u);
    Json row = AllocationJson(a);
    row["pod_mac"] = a.pod_mac;
    row["labels"] = labels;
    row["program_id"] = attached.ok() ? *attached : 0u;
    list.push_back(row);
  }
  return list;
}

// What the cluster's NetworkPolicies say about a connection, from the state alone.
Result<Json> Agent::TracePolicy(const Json& params) {
  if (!manifests_) return Status::Invalid("the agent has no cluster state source");
  control::ConnectionQuery query;
  query.source.pod = params.value("from", "");
  query.source.ip = params.value("from_ip", "");
  query.destination.pod = params.value("to", "");
  query.destination.ip = params.value("to_ip", "");
  query.port = params.value("port", 0);
  query.protocol = params.value("protocol", "TCP");
  for (const auto& [side, key] :
       {std::pair{"from", query.source.pod}, std::pair{"to", query.destination.pod}}) {
    if (!key.empty() && !manifests_->State().pods.contains(key)) {
      return Status::NotFound(std::string("--") + side + " " + key + ": no such pod");
    }
  }
  control::PolicyVerdict verdict = control::EvaluatePolicy(manifests_->State(), query);
  auto direction = [](const control::DirectionVerdict& d) {
    Json rules = Json::array();
    for (const auto& r : d.allowed_by) {
      rules.push_back(
          Json{{"policy", r.policy}, {"direction", r.direction}, {"rule", r.rule_index}});
    }
    return Json{{"isolated", d.isolated},
                {"allowed", d.allowed},
                {"allowed_by", rules},
                {"isolating_policies", d.isolating_policies}};
  };
  return Json{{"allowed", verdict.allowed},
              {"reason", verdict.reason},
              {"egress", direction(verdict.egress)},
              {"ingress", direction(verdict.ingress)},
              {"text", control::FormatVerdict(verdict)}};
}

Json Agent::ClusterCounts() const {
  if (!manifests_) return Json::object();
  const auto& state = manifests_->State();
  return Json{{"namespaces", state.namespaces.size()},
              {"pods", state.pods.size()},
              {"services", state.services.size()},
              {"endpoint_slices", state.endpoint_slices.size()},
              {"network_policies", state.network_policies.size()},
              {"nodes", state.nodes.size()},
              {"generation", cluster_generation_},
              {"last_apply", last_apply_}};
}

Json Agent::MetricsJson() {
  Json rows = Json::array();
  auto metrics = datapath::MetricsMap(program_->MetricsFd()).Read();
  if (!metrics.ok()) return rows;
  for (const auto& row : *metrics) {
    rows.push_back(Json{{"reason", ReasonLabel(row.reason)},
                        {"code", row.reason},
                        {"drop", IsDrop(row.reason)},
                        {"direction", DirectionLabel(row.direction)},
                        {"packets", row.packets},
                        {"bytes", row.bytes}});
  }
  return rows;
}

Result<Json> Agent::DescribeStatus() {
  auto endpoints = ListEndpoints();
  if (!endpoints.ok()) return endpoints.status();
  Json attachments = Json::array();
  for (const auto& endpoint : *endpoints) {
    attachments.push_back(Json{{"interface", endpoint["interface"]},
                               {"ifindex", endpoint["ifindex"]},
                               {"hook", "tc-ingress"},
                               {"program", "kdp_from_pod"},
                               {"program_id", endpoint["program_id"]},
                               {"current", endpoint["program_id"] == program_->ProgramId()}});
  }
  Json maps = Json::array();
  for (int fd :
       {program_->EndpointsFd(), program_->CtFd(), program_->MetricsFd(), program_->EventsFd()}) {
    auto fill = datapath::DescribeMap(fd);
    if (!fill.ok()) continue;
    maps.push_back(Json{{"name", fill->name},
                        {"type", fill->type},
                        {"max_entries", fill->max_entries},
                        {"entries", fill->entries}});
  }
  auto uptime =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_);
  return Json{{"node", config_.node_name},
              {"healthy", true},
              {"uptime_seconds", uptime.count()},
              {"pod_cidr", pod_cidr_.ToString()},
              {"router_ip", FormatIpv4(allocator_->Gateway())},
              {"pin_dir", datapath::NodePinDir(config_.DatapathId())},
              {"program",
               {{"name", "kdp_from_pod"},
                {"id", program_->ProgramId()},
                {"verified_instructions", program_->VerifiedInstructions()}}},
              {"attachments", attachments},
              {"maps", maps},
              {"endpoints", endpoints->size()},
              {"metrics", MetricsJson()},
              {"recent_errors", Json(recent_errors_)},
              {"recent_drops", Json(recent_drops_)},
              {"manifest_errors", Json(manifest_errors_)},
              {"cluster", ClusterCounts()},
              {"ipam", IpamSummary()},
              {"conntrack", ConntrackSummary()},
              {"node_device", NodeDeviceSummary()},
              {"masquerade", MasqueradeSummary()},
              {"nat", NatSummary()},
              {"port_checks", port_checks_},
              {"policy", policy_summary_},
              {"policy_logging", policy_logger_->Stats()}};
}

Status Agent::Uninstall(const AgentConfig& config, bool remove_state) {
  if (!config.netns.empty()) KUBEDP_RETURN_IF_ERROR(EnterNetns(config.netns));
  KUBEDP_RETURN_IF_ERROR(DetachNodeDevice(config));
  KUBEDP_RETURN_IF_ERROR(datapath::RemoveNodePinDir(config.DatapathId()));
  KUBEDP_RETURN_IF_ERROR(netdev::DeleteLink(kRouterDevice));
  std::error_code ec;
  fs::remove(api::SocketPath(config.run_dir), ec);
  if (remove_state) fs::remove_all(config.state_dir, ec);
  return Status::Ok();
}

}  // namespace kubedp::agent
