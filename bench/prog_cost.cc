#include "bench/prog_cost.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <unistd.h>

#include <cstring>
#include <memory>

#include "common/fd.h"
#include "control/conntrack.h"
#include "control/endpoints.h"
#include "control/policy_compiler.h"
#include "control/services.h"
#include "datapath/maps.h"
#include "datapath/pins.h"
#include "datapath/pod_program.h"
#include "datapath/policy_maps.h"
#include "datapath/service_maps.h"
#include "k8s/decode.h"

namespace kubedp::bench {
namespace {

constexpr uint32_t kPodCidr = 0x0af40700;  // 10.244.7.0/24
constexpr uint32_t kClient = 0x0af4070a;   // 10.244.7.10
constexpr uint32_t kServer = 0x0af4070b;   // 10.244.7.11
constexpr uint32_t kOpen = 0x0af4070c;     // 10.244.7.12, under no policy
constexpr uint32_t kVip = 0x0a60000a;      // 10.96.0.10
constexpr int kClientIf = 42, kServerIf = 43, kOpenIf = 44;

// The server pod under an ingress policy that admits the client on 8080.
constexpr const char* kCluster = R"(
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: bench, labels: {app: client}}
status: {podIP: 10.244.7.10}
---
apiVersion: v1
kind: Pod
metadata: {name: server, namespace: bench, labels: {app: server}}
status: {podIP: 10.244.7.11}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: server, namespace: bench}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress: [{from: [{podSelector: {matchLabels: {app: client}}}], ports: [{port: 8080}]}]
)";

// A TCP segment of the flow client:sport -> VIP:80 (or its reply).
std::vector<uint8_t> Segment(uint32_t saddr, uint32_t daddr, uint16_t sport, uint16_t dport,
                             uint8_t flags) {
  std::vector<uint8_t> frame(sizeof(ethhdr) + sizeof(iphdr) + 20 + 16, 0);
  auto* eth = reinterpret_cast<ethhdr*>(frame.data());
  eth->h_proto = htons(ETH_P_IP);
  auto* ip = reinterpret_cast<iphdr*>(eth + 1);
  ip->version = 4;
  ip->ihl = 5;
  ip->tot_len = htons(static_cast<uint16_t>(frame.size() - sizeof(ethhdr)));
  ip->ttl = 64;
  ip->protocol = IPPROTO_TCP;
  ip->saddr = htonl(saddr);
  ip->daddr = htonl(daddr);
  auto* tcp = reinterpret_cast<uint8_t*>(ip + 1);
  uint16_t ports[2] = {htons(sport), htons(dport)};
  std::memcpy(tcp, ports, sizeof(ports));
  tcp[12] = 5 << 4;
  tcp[13] = flags;
  return frame;
}

// Average nanoseconds per run of `repeat` runs of the frame.
Result<double> RunNs(int prog_fd, const std::vector<uint8_t>& frame, uint32_t ingress_ifindex,
                     int repeat) {
  std::vector<uint8_t> out(frame.size() + 64);
  __sk_buff ctx{};
  ctx.ingress_ifindex = ingress_ifindex;
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(), .data_out = out.data(),
              .data_size_in = static_cast<uint32_t>(frame.size()),
              .data_size_out = static_cast<uint32_t>(out.size()), .ctx_in = &ctx,
              .ctx_size_in = sizeof(ctx), .repeat = repeat);
  if (bpf_prog_test_run_opts(prog_fd, &opts) != 0) return Status::FromErrno(errno, "test run");
  return static_cast<double>(opts.duration);
}

// r0 = TC_ACT_OK; exit: what a packet costs with no work at all.
Result<UniqueFd> LoadEmptyProgram() {
  bpf_insn insns[] = {
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
      {.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0}};
  int fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "kdp_empty", "GPL", insns, 2, nullptr);
  if (fd < 0) return Status::FromErrno(errno, "loading the empty program");
  return UniqueFd(fd);
}

// The pod program in a private pin directory, with two endpoints, a ClusterIP
// and the server's policy; removed with the object.
class Node {
 public:
  static Result<std::unique_ptr<Node>> Create() {
    std::unique_ptr<Node> node(new Node("kubedp-bpftest-bench-" + std::to_string(getpid())));
    KUBEDP_RETURN_IF_ERROR(datapath::EnsureBpffsMounted());
    KUBEDP_RETURN_IF_ERROR(datapath::CreateNodePinDir(node->pin_name_));
    kdp_node_config config{.pod_cidr = htonl(kPodCidr),
                           .pod_cidr_mask = htonl(0xffffff00),
                           .router_ip = htonl(kPodCidr | 1),
                           .ct_timeouts = control::DefaultCtTimeouts()};
    auto program = datapath::PodProgram::Load(datapath::NodePinDir(node->pin_name_), config);
    if (!program.ok()) return program.status();
    node->program_ = std::move(program).value();
    KUBEDP_RETURN_IF_ERROR(node->Program());
    return node;
  }
  ~Node() {
    program_.reset();
    (void)datapath::RemoveNodePinDir(pin_name_);
  }
  int ProgramFd() const { return program_->ProgramFd(); }

 private:
  explicit Node(std::string pin_name) : pin_name_(std::move(pin_name)) {}

  Status Program() {
    auto decoded = k8s::DecodeManifests(kCluster, "bench cluster");
    if (!decoded.ok()) return decoded.status();
    k8s::ClusterState state;
    for (auto& object : decoded->objects) state.Add(std::move(object));
    control::PolicyTables policy =
        control::CompilePolicy(state, {{"bench/client", 1, kClient}, {"bench/server", 2, kServer}});
    auto written =
        datapath::ReconcilePolicyMaps(program_->PolicyPeersFd(), program_->PolicyPortsFd(), policy);
    if (!written.ok()) return written.status();
    control::EndpointTable endpoints =
        control::CompileEndpoints({{.ip = kClient, .endpoint_id = 1, .ifindex = kClientIf},
                                   {.ip = kServer, .endpoint_id = 2, .ifindex = kServerIf}});
    for (auto& [ip, info] : endpoints) {
      if (auto flags = policy.endpoint_flags.find(info.endpoint_id);
          flags != policy.endpoint_flags.end()) {
        info.flags |= flags->second;
      }
    }
    KUBEDP_RETURN_IF_ERROR(datapath::EndpointMap(program_->EndpointsFd()).Reconcile(endpoints));
    control::Frontend frontend{.kind = control::FrontendKind::kClusterIP,
                               .ip = kVip,
                               .port = 80,
                               .protocol = IPPROTO_TCP,
                               .service = "bench/server",
                               .backends = {{.ip = kServer, .port = 8080, .ready = true}}};
    auto services =
        datapath::ReconcileServiceMaps({program_->ServicesFd(), program_->BackendsFd(),
                                        program_->MaglevFd(), program_->ServiceMetricsFd()},
                                       control::ServiceTable{.frontends = {frontend}}, "node1");
    return services.ok() ? Status::Ok() : services.status();
  }

  std::string pin_name_;
  std::unique_ptr<datapath::PodProgram> program_;
};

}  // namespace

Result<std::vector<Row>> MeasureProgramCost(const ProgCostOptions& options) {
  auto node = Node::Create();
  if (!node.ok()) return node.status();
  auto empty = LoadEmptyProgram();
  if (!empty.ok()) return empty.status();
  int prog = (*node)->ProgramFd();

  // One established connection: SYN, the server's SYN/ACK, then ACKs.
  constexpr uint16_t kEstablishedPort = 40000;
  for (auto [saddr, daddr, sport, dport, flags, ifindex] :
       {std::tuple{kClient, kVip, kEstablishedPort, uint16_t{80}, uint8_t{0x02}, kClientIf},
        std::tuple{kServer, kClient, uint16_t{8080}, kEstablishedPort, uint8_t{0x12}, kServerIf}}) {
    auto ran = RunNs(prog, Segment(saddr, daddr, sport, dport, flags), ifindex, 1);
    if (!ran.ok()) return ran.status();
  }
  std::vector<uint8_t> ack = Segment(kClient, kVip, kEstablishedPort, 80, 0x10);

  Row established{.name = "prog: established flow (ClusterIP, policy)",
                  .unit = "ns/packet",
                  .higher_is_better = false,
                  .baseline_name = "empty program",
                  .goal = "<= empty + 60 ns"};
  // The new-flow path, and its parts: the same SYN to a pod under no policy,
  // to the server under policy, and through the ClusterIP.
  struct NewFlow {
    Row row;
    uint32_t daddr;
    uint16_t dport;
  };
  std::vector<NewFlow> new_flows{{Row{.name = "prog: new flow (service, policy, conntrack create)",
                                      .unit = "ns/packet",
                                      .higher_is_better = false,
                                      .baseline_name = "empty program",
                                      .goal = "<= empty + 300 ns"},
                                  kVip, 80},
                                 {Row{.name = "  part: new flow to a pod IP under policy",
                                      .unit = "ns/packet",
                                      .higher_is_better = false,
                                      .baseline_name = "empty program",
                                      .goal = "(breakdown)"},
                                  kServer, 8080},
                                 {Row{.name = "  part: new flow to a pod IP, no policy",
                                      .unit = "ns/packet",
                                      .higher_is_better = false,
                                      .baseline_name = "empty program",
                                      .goal = "(breakdown)"},
                                  kOpen, 8080}};
  uint16_t next_port = 1024;
  for (int round = 0; round < options.rounds; ++round) {
    // A then B, each side the same number of runs.
    auto a = RunNs(prog, ack, kClientIf, options.packets);
    auto b = RunNs(empty->get(), ack, kClientIf, options.packets);
    if (!a.ok()) return a.status();
    if (!b.ok()) return b.status();
    established.kubedp.push_back(*a);
    established.baseline.push_back(*b);

    for (auto& flow : new_flows) {
      std::vector<double> fresh, bare;
      for (int i = 0; i < options.packets; ++i) {
        if (++next_port == 0) next_port = 1024;
        auto syn =
            RunNs(prog, Segment(kClient, flow.daddr, next_port, flow.dport, 0x02), kClientIf, 1);
        auto none = RunNs(empty->get(), ack, kClientIf, 1);
        if (!syn.ok()) return syn.status();
        if (!none.ok()) return none.status();
        fresh.push_back(*syn);
        bare.push_back(*none);
      }
      flow.row.kubedp.push_back(Median(fresh));
      flow.row.baseline.push_back(Median(bare));
    }
  }
  established.met = established.KubedpFigure() <= established.BaselineFigure() + 60;
  std::vector<Row> rows{established};
  for (auto& flow : new_flows) {
    flow.row.met = flow.row.KubedpFigure() <= flow.row.BaselineFigure() + 300;
    rows.push_back(flow.row);
  }
  return rows;
}

}  // namespace kubedp::bench
