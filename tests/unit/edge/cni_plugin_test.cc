// The CNI plugin's protocol handling that needs no kernel: environment and
// configuration errors, VERSION, and host interface naming.
#include <gtest/gtest.h>

#include "cni/plugin.h"

namespace kubedp::cni {
namespace {

using Env = std::map<std::string, std::string>;

const char* kConfig = R"({"cniVersion": "1.0.0", "name": "kubedp", "type": "kubedp-cni"})";

Json Output(const Outcome& outcome) {
  return Json::parse(outcome.stdout_text);
}

Env AddEnv() {
  return {{"CNI_COMMAND", "ADD"},
          {"CNI_CONTAINERID", "abc"},
          {"CNI_NETNS", "/run/netns/x"},
          {"CNI_IFNAME", "eth0"}};
}

TEST(CniVersion, AdvertisesEverySupportedVersion) {
  Outcome outcome = cni::Run({{"CNI_COMMAND", "VERSION"}}, R"({"cniVersion": "0.4.0"})");
  EXPECT_EQ(outcome.exit_code, 0);
  Json out = Output(outcome);
  EXPECT_EQ(out["cniVersion"], "0.4.0");
  EXPECT_EQ(out["supportedVersions"], Json::parse(R"(["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"])"));
}

TEST(CniErrors, MissingCommandIsCode4) {
  Outcome outcome = cni::Run({}, kConfig);
  EXPECT_NE(outcome.exit_code, 0);
  EXPECT_EQ(Output(outcome)["code"], kErrInvalidEnvironment);
  EXPECT_EQ(Output(outcome)["msg"], "CNI_COMMAND is not set");
}

TEST(CniErrors, EachMissingAddVariableIsNamed) {
  for (const char* name : {"CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"}) {
    Env env = AddEnv();
    env.erase(name);
    Outcome outcome = cni::Run(env, kConfig);
    EXPECT_NE(outcome.exit_code, 0) << name;
    Json out = Output(outcome);
    EXPECT_EQ(out["code"], kErrInvalidEnvironment) << name;
    EXPECT_EQ(out["msg"], std::string(name) + " is not set");
  }
}

TEST(CniErrors, DelNeedsNoNetns) {
  Env env = AddEnv();
  env["CNI_COMMAND"] = "DEL";
  env.erase("CNI_NETNS");
  env.erase("CNI_CONTAINERID");
  Json out = Output(cni::Run(env, kConfig));
  EXPECT_EQ(out["msg"], "CNI_CONTAINERID is not set") << "CNI_NETNS is optional for DEL";
}

TEST(CniErrors, UndecodableConfigIsCode6) {
  Json out = Output(cni::Run(AddEnv(), "{not json"));
  EXPECT_EQ(out["code"], kErrDecode);
}

TEST(CniErrors, ConfigWithoutVersionIsCode7) {
  Json out = Output(cni::Run(AddEnv(), R"({"name": "kubedp"})"));
  EXPECT_EQ(out["code"], kErrInvalidConfig);
}

TEST(CniErrors, UnknownCommandIsRejected) {
  Env env = AddEnv();
  env["CNI_COMMAND"] = "FROB";
  Outcome outcome = cni::Run(env, kConfig);
  EXPECT_NE(outcome.exit_code, 0);
  Json out = Output(outcome);
  EXPECT_EQ(out["cniVersion"], "1.0.0") << "errors answer in the configured version";
  EXPECT_EQ(out["code"], kErrInvalidEnvironment);
}

TEST(HostVethName, StableShortAndPerInterface) {
  std::string name = HostVethName("0123456789abcdef", "eth0");
  EXPECT_EQ(name, HostVethName("0123456789abcdef", "eth0"));
  EXPECT_LE(name.size(), 15u);
  EXPECT_EQ(name.rfind("kubedp", 0), 0u);
  EXPECT_NE(name, HostVethName("0123456789abcdef", "net1"));
}

}  // namespace
}  // namespace kubedp::cni
