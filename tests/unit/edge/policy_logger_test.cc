// The policy log file: one JSON object per line, rotated by size with five
// backups, and the records `kubedp monitor` polls.
#include "agent/policy_logger.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace kubedp::agent {
namespace {

namespace fs = std::filesystem;

class PolicyLoggerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("kubedp-logtest-" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(PolicyLoggerTest, RotatesBySizeAndKeepsFiveBackups) {
  std::string path = (dir_ / "policy_action.log").string();
  PolicyLogger logger("node1", path, /*rotate_bytes=*/2000);
  control::LoggingConfig config;
  config.allow_log = true;
  config.rate_limit = 1000000;
  logger.SetConfig(config);
  k8s::ClusterState state;
  for (int i = 0; i < 200; ++i) {
    logger.Allow(state, {"10.0.0.1", "10.0.0.2", static_cast<uint16_t>(40000 + i), 80, "TCP"}, true,
                 1000 + i);
  }
  EXPECT_TRUE(fs::exists(path));
  for (int i = 1; i <= 5; ++i) EXPECT_TRUE(fs::exists(path + "." + std::to_string(i))) << i;
  EXPECT_FALSE(fs::exists(path + ".6")) << "only five backups";
  EXPECT_LE(fs::file_size(path + ".1"), 2000u + 600u) << "rotated near the limit";

  std::ifstream current(path);
  std::string line;
  ASSERT_TRUE(std::getline(current, line));
  auto record = nlohmann::json::parse(line);
  EXPECT_EQ(record["disposition"], "allow");
  EXPECT_EQ(record["connection"]["dest_port"], 80);

  auto recent = logger.Poll(195);
  ASSERT_EQ(recent.size(), 5u) << "records after sequence 195";
  EXPECT_EQ(recent.back()["seq"], 200);
}

}  // namespace
}  // namespace kubedp::agent
