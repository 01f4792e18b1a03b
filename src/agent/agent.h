// kubedp-agent: one per node. Owns IPAM and endpoints, keeps the pinned maps in
// step with them, attaches the pod program to each pod's veth, reads cluster
// state from a manifest directory, and answers the API on a unix socket.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "agent/policy_logger.h"
#include "api/rpc.h"
#include "common/ip.h"
#include "common/result.h"
#include "control/masquerade.h"
#include "control/port_ranges.h"
#include "control/services.h"
#include "datapath/conntrack_sweeper.h"
#include "datapath/event_reader.h"
#include "datapath/gc_program.h"
#include "datapath/netdev_program.h"
#include "datapath/pod_program.h"
#include "datapath/service_maps.h"
#include "datapath/sock_program.h"
#include "ipam/allocator.h"
#include "ipam/store.h"
#include "kubedp/abi.h"
#include "source/directory_watcher.h"
#include "source/manifest_dir.h"

namespace kubedp::agent {

struct AgentConfig {
  std::string node_name;
  std::string manifest_dir;  // empty: no cluster-state source
  std::string state_dir;     // IPAM/endpoint store
  std::string run_dir;       // API socket
  std::string netns;         // join this network namespace first (lab nodes)
  std::string pod_cidr;      // overrides the Node object's spec.podCIDR
  std::string datapath_id;   // bpffs directory name; the node name when empty
  // An allocation whose pod is gone is freed once it is this old (no ADD in flight).
  int64_t ipam_grace_seconds = 60;
  // How often the agent looks for allocations of pods that are gone.
  int64_t ipam_reclaim_interval_seconds = 30;
  std::string policy_log_file = "/var/log/kubedp/policy_action.log";
  std::string nodeport_range = "30000-32767";
  // Adds the NodePort range to net.ipv4.ip_local_reserved_ports so the
  // kernel never picks an ephemeral port that a NodePort could claim.
  bool reserve_nodeport_range = true;
  uint32_t ct_max_entries = KDP_CT_DEFAULT_MAX;
  int64_t ct_gc_interval_seconds = 10;
  kdp_ct_timeouts ct_timeouts{};  // filled with control::DefaultCtTimeouts() by main
  // The uplink: NodePorts are served and masquerade happens on it. Empty: the
  // device of the default route; "none": no node device.
  std::string node_device;
  bool masquerade = true;
  std::string snat_port_range;  // empty: the ports above the NodePort range
  uint32_t nat_max_entries = KDP_NAT_DEFAULT_MAX;
  // How Services pick a backend unless their annotation says otherwise.
  control::LbAlgorithm lb_algorithm = control::LbAlgorithm::kRandom;
  // The cgroup the socket hooks (Services for the node's processes) attach
  // to. Empty: the cgroup v2 root; "none": no socket hooks.
  std::string cgroup_root;

  const std::string& DatapathId() const { return datapath_id.empty() ? node_name : datapath_id; }
};

// The device that carries the pods' gateway address on the node.
inline constexpr const char* kRouterDevice = "kubedp_host";
inline constexpr const char* kRouterPeer = "kubedp_net";
// Host-side pod veths are named kubedp<8 hex digits> (cni::HostVethName).
inline constexpr const char* kPodVethPrefix = "kubedp";

// A bounded map's fill for status: entries, size, fill and pressure (at 90 %,
// before an LRU map starts evicting live entries).
api::Json MapFillJson(uint64_t entries, uint32_t max_entries);
bool UnderPressure(uint64_t entries, uint32_t max_entries);

// An allocation as the API shows it (ipam.list, endpoint.get, endpoint.list).
api::Json AllocationJson(const ipam::Allocation& allocation);

class Agent {
 public:
  static Result<std::unique_ptr<Agent>> Start(const AgentConfig& config);
  ~Agent();
  // Serves until a SIGINT or SIGTERM arrives.
  Status Run();

  // Removes everything the agent put on the node: pins, router device, socket.
  // State (the store) is kept unless remove_state.
  static Status Uninstall(const AgentConfig& config, bool remove_state);

 private:
  // The node device (node_device.cc).
  Status ResolveNodeDevice();
  kdp_node_config NodeConfig() const;
  Status AttachNodeDevice(const kdp_node_config& node_config, const datapath::MapSizes& sizes);
  Status AttachSocketHooks(const kdp_node_config& node_config, const datapath::MapSizes& sizes);
  static Status DetachNodeDevice(const AgentConfig& config);
  void LoadMasqueradeConfig();
  Status WriteMasqueradeMap();
  void ResyncMasqueradePeriodically();
  api::Json NodeDeviceSummary();
  api::Json MasqueradeSummary() const;
  api::Json NatSummary();
  Result<api::Json> ListNat();
  void SweepNat();

  explicit Agent(AgentConfig config);
  Status Init();
  Status ResolvePodCidr();
  Status CheckPortRanges();
  Status EnsureRouterDevice();
  Status RestoreEndpoints();
  Status ReconcileDatapath();
  void ReloadManifests();
  void RecordError(const std::string& message);

  Result<api::Json> Handle(const std::string& method, const api::Json& params);
  Result<api::Json> CreateEndpoint(const api::Json& params);
  Result<api::Json> DeleteEndpoint(const api::Json& params);
  Result<api::Json> ListEndpoints();
  Result<api::Json> GetEndpoint(const api::Json& params);
  Status ReleaseEndpoint(const ipam::Allocation& endpoint, const std::string& reason);

  // Conntrack (conntrack_handlers.cc).
  Result<api::Json> ListConntrack(const api::Json& params);
  Result<api::Json> FlushConntrack();
  api::Json ConntrackSummary();
  void SweepConntrackPeriodically();
  void ConsumeConntrackSweep();

  // IPAM housekeeping (ipam_handlers.cc).
  Result<api::Json> ListAllocations();
  Result<api::Json> Reclaim(const api::Json& params);
  Result<api::Json> GarbageCollect(const api::Json& params);
  Result<api::Json> Readiness();
  api::Json IpamSummary();
  void ReclaimPeriodically();
  bool NetnsExists(const ipam::Allocation& allocation) const;
  bool PodKnown(const ipam::Allocation& allocation) const;
  Result<api::Json> DescribeStatus();
  api::Json MetricsJson();
  api::Json ClusterCounts() const;
  Result<api::Json> TracePolicy(const api::Json& params);
  void FlushPolicyLog();
  Result<api::Json> ListServices();
  datapath::ServiceMapFds ServiceMaps() const;
  api::Json FrontendCounters(const control::Frontend& frontend) const;

  void OnEvent(const void* data, size_t size);

  AgentConfig config_;
  std::chrono::steady_clock::time_point started_;
  Ipv4Cidr pod_cidr_;
  std::unique_ptr<source::ManifestDirectory> manifests_;
  std::optional<source::DirectoryWatcher> watcher_;
  std::unique_ptr<ipam::Store> store_;
  std::optional<ipam::Allocator> allocator_;
  std::unique_ptr<datapath::PodProgram> program_;
  std::unique_ptr<datapath::NetdevProgram> netdev_program_;
  std::unique_ptr<datapath::SockProgram> sock_program_;
  std::unique_ptr<datapath::GcProgram> gc_program_;
  // After gc_program_: stopped (joined) before the program it runs goes.
  std::unique_ptr<datapath::ConntrackSweeper> ct_sweeper_;
  bool ct_under_pressure_ = false;  // as of the last sweep
  std::string sock_cgroup_;         // where the socket hooks are attached ("" when not)
  uint64_t netns_cookie_ = 0;
  std::string node_device_;
  int node_ifindex_ = 0;
  uint32_t node_ip_ = 0;  // host order
  control::PortRange snat_ports_;
  control::PortRange nodeport_ports_;
  control::MasqueradeConfig masq_config_ = control::DefaultMasqueradeConfig();
  std::string masq_error_;
  std::chrono::steady_clock::time_point next_masq_resync_;
  uint64_t nat_swept_total_ = 0;
  std::optional<api::RpcServer> server_;
  std::unique_ptr<datapath::EventReader> events_;
  std::deque<api::Json> recent_errors_;
  std::deque<api::Json> recent_drops_;
  std::vector<api::Json> manifest_errors_;
  api::Json port_checks_ = api::Json::object();
  uint64_t policy_revision_ = 0;
  // Counts the cluster state changes applied (the lab waits on it).
  uint64_t cluster_generation_ = 0;
  // How long the last change took: reading and decoding the manifests, then
  // compiling and writing the maps.
  api::Json last_apply_ = api::Json::object();
  std::unique_ptr<PolicyLogger> policy_logger_;
  std::chrono::steady_clock::time_point next_log_flush_;
  api::Json policy_summary_ = api::Json::object();
  uint64_t exhaustion_events_ = 0;
  uint64_t reclaimed_total_ = 0;
  std::chrono::steady_clock::time_point next_reclaim_;
  std::chrono::steady_clock::time_point next_ct_sweep_;
  uint64_t ct_swept_total_ = 0;
  uint64_t ct_last_sweep_removed_ = 0;
};

}  // namespace kubedp::agent
