// Conntrack with real TCP between pods: closed connections leave the table
// within the close timeout, and an agent restart in the middle of a thousand
// long-lived connections drops none of them.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <chrono>
#include <thread>

#include "common/fd.h"
#include "e2e/echo_client.h"
#include "e2e/lab_fixture.h"
#include "netdev/netdev.h"

namespace kubedp {
namespace {

using testing::AgentCall;

constexpr int kServerPort = 8080;

using testing::ConnectAndGreet;
using testing::ReadLine;

class Conntrack : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    testing::RaiseOpenFileLimit();
    testing::UpLab("e2e-ct", "ct-node.yaml", &lab_);
  }
  static void TearDownTestSuite() { EXPECT_TRUE(lab::Down(lab_).ok()); }

  void SetUp() override {
    if (HasFatalFailure()) GTEST_SKIP();
    auto state = lab::LoadState(lab_);
    ASSERT_TRUE(state.ok());
    for (const auto& pod : (*state)["pods"]) {
      if (pod["name"] == "server") server_ip_ = pod["ip"];
      if (pod["name"] == "client") client_netns_ = "/run/netns/" + pod["netns"].get<std::string>();
    }
  }

  api::Json ServerFlows() {
    auto result = api::Call(lab::NodeSocket(lab_, "node1"), "ct.list",
                            api::Json{{"address", server_ip_}, {"port", kServerPort}});
    EXPECT_TRUE(result.ok());
    return result.ok() ? *result : api::Json::array();
  }

  static std::string lab_;
  std::string server_ip_;
  std::string client_netns_;
};
std::string Conntrack::lab_;

TEST_F(Conntrack, ClosedConnectionsLeaveTheTableWithinTheCloseTimeout) {
  constexpr int kConnections = 20;
  {
    auto guard = netdev::NetnsGuard::Enter(client_netns_);
    ASSERT_TRUE(guard.ok());
    for (int i = 0; i < kConnections; ++i) {
      std::string greeting;
      UniqueFd fd = ConnectAndGreet(server_ip_, kServerPort, &greeting);
      ASSERT_TRUE(fd.valid()) << "connection " << i;
      EXPECT_EQ(greeting.rfind("default/server ", 0), 0u) << greeting;
      shutdown(fd.get(), SHUT_WR);
      std::string rest;
      ReadLine(fd.get(), &rest);  // waits for the server's FIN (EOF)
    }
  }
  api::Json flows = ServerFlows();
  ASSERT_EQ(flows.size(), static_cast<size_t>(kConnections)) << flows.dump();
  for (const auto& flow : flows) {
    EXPECT_TRUE(flow["state"] == "closing" || flow["state"] == "fin-wait") << flow.dump();
    EXPECT_LE(flow["expires_in_seconds"].get<int>(), 60);
  }
  // Close timeout 2 s, sweep every second: gone within a few seconds.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(8);
  while (!ServerFlows().empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(ServerFlows().empty()) << ServerFlows().dump();
  EXPECT_GE(AgentCall(lab_, "status")["conntrack"]["swept_total"].get<int>(), kConnections);
}

TEST_F(Conntrack, AgentRestartDropsNoLongLivedConnection) {
  constexpr int kConnections = 1000;
  std::vector<UniqueFd> connections;
  {
    auto guard = netdev::NetnsGuard::Enter(client_netns_);
    ASSERT_TRUE(guard.ok());
    for (int i = 0; i < kConnections; ++i) {
      std::string greeting;
      connections.push_back(ConnectAndGreet(server_ip_, kServerPort, &greeting));
      ASSERT_TRUE(connections.back().valid()) << "connection " << i;
    }
  }
  EXPECT_GE(ServerFlows().size(), static_cast<size_t>(kConnections));

  ASSERT_TRUE(lab::RestartAgent(lab_, "node1").ok());

  int alive = 0;
  for (auto& fd : connections) {
    std::string reply;
    if (send(fd.get(), "ping\n", 5, MSG_NOSIGNAL) == 5 && ReadLine(fd.get(), &reply) &&
        reply.rfind("default/server ", 0) == 0) {
      ++alive;
    }
  }
  EXPECT_EQ(alive, kConnections) << "every connection answers after the restart";
  size_t tracked = 0;
  for (const auto& flow : ServerFlows()) tracked += flow["state"] == "established";
  EXPECT_GE(tracked, static_cast<size_t>(kConnections)) << "the table survived the restart";
}

}  // namespace
}  // namespace kubedp
