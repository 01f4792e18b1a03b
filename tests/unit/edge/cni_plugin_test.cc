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
          {"CNI_IFNAME", "eth0"},
          {"CNI_PATH", "/opt/cni/bin"}};
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
  for (const char* name : {"CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"}) {
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

Env VerbEnv(const std::string& verb) {
  Env env = AddEnv();
  env["CNI_COMMAND"] = verb;
  return env;
}

std::string ConfigWithSocket(const std::string& version, const std::string& extra = "") {
  return R"({"cniVersion": ")" + version +
         R"(", "name": "kubedp", "type": "kubedp-cni", "agentSocket": "/nonexistent/kubedp.sock")" +
         extra + "}";
}

TEST(CniErrors, UnsupportedVersionIsCode1) {
  Json out = Output(cni::Run(AddEnv(), ConfigWithSocket("2.0.0")));
  EXPECT_EQ(out["code"], kErrIncompatibleVersion);
}

TEST(CniErrors, InvalidContainerIdIsCode4) {
  Env env = AddEnv();
  env["CNI_CONTAINERID"] = "-bad/id";
  Json out = Output(cni::Run(env, kConfig));
  EXPECT_EQ(out["code"], kErrInvalidEnvironment);
  EXPECT_EQ(out["msg"], "CNI_CONTAINERID is not valid");
}

TEST(CniErrors, CheckStatusAndGcNeedCniPath) {
  for (const char* verb : {"CHECK", "STATUS", "GC"}) {
    Env env = VerbEnv(verb);
    env.erase("CNI_PATH");
    Json out = Output(cni::Run(env, kConfig));
    EXPECT_EQ(out["msg"], "CNI_PATH is not set") << verb;
  }
}

TEST(CniAgentDown, DelAndCheckAskToTryAgainLater) {
  for (const char* verb : {"DEL", "CHECK"}) {
    Outcome outcome = cni::Run(VerbEnv(verb), ConfigWithSocket("1.0.0"));
    EXPECT_NE(outcome.exit_code, 0) << verb;
    EXPECT_EQ(Output(outcome)["code"], kErrTryAgainLater) << verb;
  }
}

TEST(CniAgentDown, StatusIsNotAvailable) {
  Outcome outcome = cni::Run(VerbEnv("STATUS"), ConfigWithSocket("1.1.0"));
  EXPECT_NE(outcome.exit_code, 0);
  EXPECT_EQ(Output(outcome)["code"], kErrPluginNotAvailable);
}

TEST(CniGc, NeedsValidAttachments) {
  Json out = Output(cni::Run(VerbEnv("GC"), ConfigWithSocket("1.1.0")));
  EXPECT_EQ(out["code"], kErrInvalidConfig);
  out = Output(
      cni::Run(VerbEnv("GC"),
               ConfigWithSocket("1.1.0", R"(, "cni.dev/attachments": [{"ifname": "eth0"}])")));
  EXPECT_EQ(out["msg"], "malformed valid attachment") << "the legacy key is read too";
}

TEST(CniAddResult, VersionShapesTheResult) {
  Json endpoint{{"ip", "10.244.1.7"}, {"gateway", "10.244.1.1"}, {"host_mac", "02:00:00:00:00:01"}};
  Json old =
      AddResultJson("0.3.1", "eth0", "/run/netns/p", "kubedp1", "02:00:00:00:00:02", endpoint);
  EXPECT_EQ(old["cniVersion"], "0.3.1");
  EXPECT_EQ(old["ips"][0]["version"], "4");
  EXPECT_EQ(old["ips"][0]["address"], "10.244.1.7/32");
  Json current =
      AddResultJson("1.1.0", "eth0", "/run/netns/p", "kubedp1", "02:00:00:00:00:02", endpoint);
  EXPECT_FALSE(current["ips"][0].contains("version"));
  EXPECT_EQ(current["interfaces"][1]["sandbox"], "/run/netns/p");
  EXPECT_EQ(current["ips"][0]["interface"], 1) << "the pod-side interface";
  EXPECT_EQ(current["routes"][0]["gw"], "10.244.1.1");
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
