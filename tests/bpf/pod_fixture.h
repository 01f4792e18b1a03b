// The pod program loaded with its maps pinned in a private bpffs directory,
// two endpoints in the map, and a way to run crafted frames through it.
#pragma once

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bpf/packet.h"
#include "control/conntrack.h"
#include "control/endpoints.h"
#include "datapath/maps.h"
#include "datapath/pins.h"
#include "datapath/pod_program.h"

namespace kubedp::testing {

constexpr uint32_t kPodCidr = 0x0af40700;  // 10.244.7.0/24
constexpr uint32_t kRouter = 0x0af40701;   // 10.244.7.1
constexpr uint32_t kPodA = 0x0af4070a;     // 10.244.7.10, on ifindex 42
constexpr uint32_t kPodB = 0x0af4070b;     // 10.244.7.11, on ifindex 43
constexpr int kIfA = 42;
constexpr int kIfB = 43;
inline const Mac kPodBMac{0x02, 0x00, 0x00, 0x00, 0x0b, 0x01};
inline const Mac kHostBMac{0x02, 0xfe, 0x00, 0x00, 0x0b, 0x02};

constexpr int kActOk = 0;
constexpr int kActShot = 2;
constexpr int kActRedirect = 7;

class PodProgramFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    node_ = "kubedp-bpftest-" + std::to_string(getpid());
    ASSERT_TRUE(datapath::EnsureBpffsMounted().ok());
    ASSERT_TRUE(datapath::CreateNodePinDir(node_).ok());
    auto program = datapath::PodProgram::Load(datapath::NodePinDir(node_), NodeConfig());
    ASSERT_TRUE(program.ok()) << program.status().message();
    program_ = std::move(program).value();

    datapath::EndpointMap endpoints(program_->EndpointsFd());
    control::EndpointRecord a{.ip = kPodA, .endpoint_id = 1, .ifindex = kIfA};
    control::EndpointRecord b{
        .ip = kPodB, .endpoint_id = 2, .ifindex = kIfB, .pod_mac = kPodBMac, .host_mac = kHostBMac};
    ASSERT_TRUE(endpoints.Reconcile(control::CompileEndpoints({a, b})).ok());
  }

  // The node's settings as the agent would give them; fixtures of the node
  // device add its address and ports.
  virtual kdp_node_config NodeConfig() const {
    return kdp_node_config{.pod_cidr = htonl(kPodCidr),
                           .pod_cidr_mask = htonl(0xffffff00),
                           .router_ip = htonl(kRouter),
                           .ct_timeouts = control::DefaultCtTimeouts()};
  }

  void TearDown() override {
    program_.reset();
    EXPECT_TRUE(datapath::RemoveNodePinDir(node_).ok());
  }

  uint64_t Packets(uint32_t reason, uint32_t direction = KDP_DIR_FROM_POD) {
    auto rows = datapath::MetricsMap(program_->MetricsFd()).Read();
    EXPECT_TRUE(rows.ok());
    for (const auto& row : *rows) {
      if (row.reason == reason && row.direction == direction) return row.packets;
    }
    return 0;
  }

  // Runs one frame through the program; returns the verdict and fills out.
  int Run(const std::vector<uint8_t>& in, uint32_t ingress_ifindex, std::vector<uint8_t>& out) {
    return RunProgram(program_->ProgramFd(), in, ingress_ifindex, out);
  }

  // Runs one frame through any program of the node.
  static int RunProgram(int prog_fd, const std::vector<uint8_t>& in, uint32_t ingress_ifindex,
                        std::vector<uint8_t>& out) {
    out.assign(in.size() + 64, 0);
    __sk_buff ctx{};
    ctx.ingress_ifindex = ingress_ifindex;
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in.data(), .data_out = out.data(),
                .data_size_in = static_cast<uint32_t>(in.size()),
                .data_size_out = static_cast<uint32_t>(out.size()), .ctx_in = &ctx,
                .ctx_size_in = sizeof(ctx));
    int err = bpf_prog_test_run_opts(prog_fd, &opts);
    EXPECT_EQ(err, 0) << strerror(errno);
    out.resize(opts.data_size_out);
    return static_cast<int>(opts.retval);
  }

  std::string node_;
  std::unique_ptr<datapath::PodProgram> program_;
};

}  // namespace kubedp::testing
