// A pod reaching itself through its own Service, with an ingress policy that
// denies everything else: 1000 consecutive TCP connections from one source
// port (each closed with RST, so the tuple is reused at once), UDP exchanges,
// and no conntrack record of the closed connections afterwards.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <thread>

#include "common/fd.h"
#include "common/ip.h"
#include "e2e/lab_fixture.h"
#include "lab/probe.h"
#include "netdev/netdev.h"

namespace kubedp {
namespace {

constexpr char kVip[] = "10.96.0.20";
constexpr uint16_t kSourcePort = 45678;

// Connects from a fixed source port, reads the greeting, closes with RST.
bool ConnectOnce(std::string* greeting) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_port = htons(kSourcePort);
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) return false;
  sockaddr_in vip{};
  vip.sin_family = AF_INET;
  vip.sin_port = htons(80);
  inet_pton(AF_INET, kVip, &vip.sin_addr);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&vip), sizeof(vip)) != 0) return false;
  greeting->clear();
  char c;
  while (greeting->find('\n') == std::string::npos) {
    pollfd p{.fd = fd.get(), .events = POLLIN, .revents = 0};
    if (poll(&p, 1, 2000) <= 0 || recv(fd.get(), &c, 1, 0) != 1) return false;
    *greeting += c;
  }
  linger abort{.l_onoff = 1, .l_linger = 0};  // RST: no TIME_WAIT, the tuple is free at once
  setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &abort, sizeof(abort));
  return true;
}

TEST(Hairpin, APodReachesItselfThroughItsServiceAndLeavesNoRecord) {
  std::string lab = testing::UniqueLabName("e2e-hairpin");
  Status up = lab::Up(testing::ManifestPath("hairpin.yaml"), {.name_override = lab});
  ASSERT_TRUE(up.ok()) << up.message();
  auto state = lab::LoadState(lab);
  ASSERT_TRUE(state.ok());
  std::string netns = "/run/netns/" + (*state)["pods"][0]["netns"].get<std::string>();
  {
    auto guard = netdev::NetnsGuard::Enter(netns);
    ASSERT_TRUE(guard.ok());
    int answered = 0;
    for (int i = 0; i < 1000; ++i) {
      std::string greeting;
      if (ConnectOnce(&greeting)) {
        ++answered;
        EXPECT_EQ(greeting.rfind("app/self 169.254.42.1:45678", 0), 0u) << greeting;
      }
    }
    EXPECT_EQ(answered, 1000) << "every connection through the Service reaches the pod itself";

    for (int i = 0; i < 20; ++i) {
      lab::ProbeResult result = lab::Probe({*ParseIpv4(kVip), 53, "UDP"}, 1000);
      EXPECT_TRUE(result.connected) << result.error;
      EXPECT_EQ(result.answered_by, "app/self");
    }
  }
  // All of that while the pod's ingress policy (deny all) is in force.
  EXPECT_EQ(testing::AgentCall(lab, "status")["policy"]["isolated_endpoints"], 1);

  // Closed connections leave the table within the close timeout (1 s here).
  auto closed_tcp = [&] {
    size_t left = 0;
    auto flows =
        api::Call(lab::NodeSocket(lab, "node1"), "ct.list", api::Json{{"protocol", "TCP"}});
    if (flows.ok()) left = flows->size();
    return left;
  };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(6);
  while (closed_tcp() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(closed_tcp(), 0u) << "no record of a closed connection is left";
  EXPECT_TRUE(lab::Down(lab).ok());
}

}  // namespace
}  // namespace kubedp
