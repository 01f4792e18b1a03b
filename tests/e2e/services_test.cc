// Services with real traffic in a lab whose pods change while it runs:
// 3000 connections spread over three backends within statistical bounds, the
// node's own processes reaching the ClusterIP through the socket hooks, and a
// long-lived connection that keeps its backend while pods are added,
// relabelled out of the Service and deleted.
#include <sys/resource.h>

#include <map>
#include <thread>

#include "common/ip.h"
#include "e2e/echo_client.h"
#include "e2e/lab_fixture.h"
#include "netdev/netdev.h"

namespace kubedp {
namespace {

using testing::ConnectAndGreet;
using testing::ParseGreeting;

constexpr const char* kVip = "10.96.1.10";

class Services : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { testing::UpLab("e2e-svc", "services.yaml", &lab_); }
  static void TearDownTestSuite() { EXPECT_TRUE(lab::Down(lab_).ok()); }

  void SetUp() override {
    if (HasFatalFailure()) GTEST_SKIP();
    auto state = lab::LoadState(lab_);
    ASSERT_TRUE(state.ok());
    for (const auto& pod : (*state)["pods"]) {
      if (pod["name"] == "client") client_netns_ = "/run/netns/" + pod["netns"].get<std::string>();
    }
    node_netns_ = "/run/netns/" + (*state)["nodes"][0]["netns"].get<std::string>();
  }

  // Who answers `count` new connections to the Service, from the client.
  std::map<std::string, int> Spread(int count) {
    std::map<std::string, int> answered;
    auto guard = netdev::NetnsGuard::Enter(client_netns_);
    EXPECT_TRUE(guard.ok());
    for (int i = 0; i < count; ++i) {
      std::string line;
      UniqueFd fd = ConnectAndGreet(kVip, 80, &line);
      ++answered[fd.valid() ? ParseGreeting(line).who : "(no answer)"];
    }
    return answered;
  }

  static std::string lab_;
  std::string client_netns_;
  std::string node_netns_;
};
std::string Services::lab_;

TEST_F(Services, ThreeThousandConnectionsSpreadEvenlyOverThreeBackends) {
  auto answered = Spread(3000);
  ASSERT_EQ(answered.size(), 3u);
  // 1000 expected each; the binomial standard deviation is about 26, so
  // [850, 1150] is a bound of almost six deviations.
  for (const auto& [who, count] : answered) {
    EXPECT_GE(count, 850) << who;
    EXPECT_LE(count, 1150) << who;
  }
}

TEST_F(Services, TheNodesOwnProcessesReachTheClusterIp) {
  auto guard = netdev::NetnsGuard::Enter(node_netns_);
  ASSERT_TRUE(guard.ok());
  std::string line;
  UniqueFd tcp = ConnectAndGreet(kVip, 80, &line);
  ASSERT_TRUE(tcp.valid()) << "TCP connect to the ClusterIP from the node";
  EXPECT_EQ(ParseGreeting(line).who.rfind("shop/web-", 0), 0u) << line;

  // Unconnected UDP: the reply comes from the Service address, not the backend.
  UniqueFd udp(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in vip{.sin_family = AF_INET, .sin_port = htons(53), .sin_addr = {}, .sin_zero = {}};
  inet_pton(AF_INET, kVip, &vip.sin_addr);
  ASSERT_EQ(sendto(udp.get(), "hello\n", 6, 0, reinterpret_cast<sockaddr*>(&vip), sizeof(vip)), 6);
  pollfd ready{.fd = udp.get(), .events = POLLIN, .revents = 0};
  ASSERT_EQ(poll(&ready, 1, 2000), 1) << "no UDP reply";
  char buffer[256];
  sockaddr_in from{};
  socklen_t from_len = sizeof(from);
  ssize_t n =
      recvfrom(udp.get(), buffer, sizeof(buffer), 0, reinterpret_cast<sockaddr*>(&from), &from_len);
  ASSERT_GT(n, 0);
  EXPECT_EQ(FormatIpv4(ntohl(from.sin_addr.s_addr)), kVip);
  EXPECT_EQ(ntohs(from.sin_port), 53);
  EXPECT_EQ(std::string(buffer, n).rfind("shop/web-", 0), 0u);
}

TEST_F(Services, ALongLivedConnectionKeepsItsBackendWhilePodsChange) {
  std::string line;
  UniqueFd held;
  {
    auto guard = netdev::NetnsGuard::Enter(client_netns_);
    ASSERT_TRUE(guard.ok());
    held = ConnectAndGreet(kVip, 80, &line);
  }
  ASSERT_TRUE(held.valid());
  std::string backend = ParseGreeting(line).who;
  auto still_answers = [&] {
    std::string reply;
    return send(held.get(), "ping\n", 5, MSG_NOSIGNAL) == 5 &&
           testing::ReadLine(held.get(), &reply) && ParseGreeting(reply).who == backend;
  };

  // A pod joins by label, another is added, the held connection's backend
  // leaves the Service by label, and another backend is deleted.
  ASSERT_TRUE(lab::LabelPod(lab_, "shop/spare", {{"app", "web"}}).ok());
  EXPECT_TRUE(still_answers());
  ASSERT_TRUE(lab::AddPods(lab_, testing::ManifestPath("services-web-4.yaml")).ok());
  EXPECT_TRUE(still_answers());
  ASSERT_TRUE(lab::LabelPod(lab_, backend, {{"app", std::nullopt}}).ok());
  EXPECT_TRUE(still_answers()) << "a backend that left the Service keeps its connections";
  std::string deleted = backend == "shop/web-3" ? "shop/web-2" : "shop/web-3";
  ASSERT_TRUE(lab::DeletePod(lab_, deleted).ok());
  EXPECT_TRUE(still_answers());

  auto answered = Spread(200);
  EXPECT_FALSE(answered.contains(backend)) << "new connections avoid the relabelled pod";
  EXPECT_FALSE(answered.contains(deleted));
  EXPECT_FALSE(answered.contains("(no answer)"));
  EXPECT_TRUE(answered.contains("shop/spare"));
  EXPECT_TRUE(answered.contains("shop/web-4"));
}

}  // namespace
}  // namespace kubedp
