#include <stdlib.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "source/manifest_dir.h"

namespace kubedp::source {
namespace {

namespace fs = std::filesystem;

constexpr char kWebPod[] = R"(apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  nodeName: node-a
  containers: [{name: c, ports: [{containerPort: 80}]}]
)";

constexpr char kBrokenWebPod[] = R"(apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers: [{name: c, ports: [{containerPort: http}]}]
)";

// A fresh directory under /tmp per test, removed afterwards.
class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = "/tmp/kubedp-source-test-XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr) << "mkdtemp: " << errno;
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string PathOf(const std::string& name) const { return dir_ + "/" + name; }
  void Write(const std::string& name, const std::string& text) const {
    std::ofstream out(PathOf(name), std::ios::trunc);
    out << text;
    ASSERT_TRUE(out.good()) << name;
  }

  std::string dir_;
};

using ManifestDirectoryTest = TempDirTest;

TEST(IsManifestFileName, FiltersEditorFilesAndExtensions) {
  EXPECT_TRUE(IsManifestFileName("pods.yaml"));
  EXPECT_TRUE(IsManifestFileName("pods.yml"));
  EXPECT_TRUE(IsManifestFileName("pods.json"));
  EXPECT_FALSE(IsManifestFileName("pods.yaml~"));
  EXPECT_FALSE(IsManifestFileName(".#pods.yaml"));
  EXPECT_FALSE(IsManifestFileName(".pods.yaml.swp"));
  EXPECT_FALSE(IsManifestFileName(".hidden.yaml"));
  EXPECT_FALSE(IsManifestFileName("notes.txt"));
  EXPECT_FALSE(IsManifestFileName("#pods.yaml#"));
  EXPECT_FALSE(IsManifestFileName(""));
}

TEST_F(ManifestDirectoryTest, LoadsManifestFilesOnly) {
  Write("a.yaml",
        std::string("apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\n") + kWebPod);
  Write("b.yml",
        "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}]}\n");
  Write("c.json", R"({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}})");
  // None of these may be read: they are not manifests or are not directly in dir.
  Write("notes.txt", "not yaml: [");
  Write(".hidden.yaml", "not yaml: [");
  Write("a.yaml~", "not yaml: [");
  Write(".#a.yaml", "not yaml: [");
  fs::create_directory(PathOf("sub"));
  Write("sub/d.yaml", "not yaml: [");

  ManifestDirectory manifests(dir_);
  ReloadReport report = manifests.Reload();
  EXPECT_TRUE(report.errors.empty()) << report.errors.front().message;
  EXPECT_TRUE(report.changed);
  const k8s::ClusterState& state = manifests.State();
  EXPECT_EQ(state.Size(), 4u);
  EXPECT_TRUE(state.namespaces.contains("shop"));
  EXPECT_EQ(state.pods.at("default/web").node_name, "node-a");
  EXPECT_TRUE(state.services.contains("default/web"));
  EXPECT_TRUE(state.config_maps.contains("default/cfg"));

  EXPECT_FALSE(manifests.Reload().changed);
}

TEST_F(ManifestDirectoryTest, MalformedFileKeepsLastGoodObjects) {
  Write("pods.yaml", kWebPod);
  ManifestDirectory manifests(dir_);
  ASSERT_TRUE(manifests.Reload().errors.empty());

  Write("pods.yaml", kBrokenWebPod);
  ReloadReport report = manifests.Reload();
  ASSERT_EQ(report.errors.size(), 1u);
  EXPECT_EQ(report.errors[0].path, PathOf("pods.yaml"));
  EXPECT_EQ(report.errors[0].severity, FileError::Severity::kError);
  EXPECT_EQ(report.errors[0].message,
            "pods.yaml: document 1 (Pod default/web): spec.containers[0].ports[0].containerPort: "
            "expected an integer, got \"http\"");
  EXPECT_FALSE(report.changed);
  EXPECT_EQ(manifests.State().pods.at("default/web").node_name, "node-a");

  Write("pods.yaml", std::string(kWebPod) + "  hostNetwork: true\n");
  report = manifests.Reload();
  EXPECT_TRUE(report.errors.empty());
  EXPECT_TRUE(report.changed);
  EXPECT_TRUE(manifests.State().pods.at("default/web").host_network);
}

TEST_F(ManifestDirectoryTest, MalformedNewFileContributesNothing) {
  Write("good.yaml", kWebPod);
  Write("bad.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: [\n");
  ManifestDirectory manifests(dir_);
  ReloadReport report = manifests.Reload();
  ASSERT_EQ(report.errors.size(), 1u);
  EXPECT_EQ(report.errors[0].path, PathOf("bad.yaml"));
  EXPECT_EQ(report.errors[0].message.rfind("bad.yaml: line ", 0), 0u) << report.errors[0].message;
  EXPECT_EQ(manifests.State().Size(), 1u);
}

TEST_F(ManifestDirectoryTest, DeletingAFileRemovesItsObjects) {
  Write("pods.yaml", kWebPod);
  Write("ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n");
  ManifestDirectory manifests(dir_);
  ASSERT_TRUE(manifests.Reload().errors.empty());

  // Deleted while malformed: its last good objects go too.
  Write("pods.yaml", kBrokenWebPod);
  EXPECT_EQ(manifests.Reload().errors.size(), 1u);
  fs::remove(PathOf("pods.yaml"));
  ReloadReport report = manifests.Reload();
  EXPECT_TRUE(report.errors.empty());
  EXPECT_TRUE(report.changed);
  EXPECT_TRUE(manifests.State().pods.empty());
  EXPECT_EQ(manifests.State().Size(), 1u);
}

TEST_F(ManifestDirectoryTest, DuplicateAcrossFilesLastNameWins) {
  Write("b.yaml", kWebPod);
  std::string other = kWebPod;
  other.replace(other.find("node-a"), 6, "node-z");
  Write("a.yaml", other);
  ManifestDirectory manifests(dir_);
  ReloadReport report = manifests.Reload();
  ASSERT_EQ(report.errors.size(), 1u);
  EXPECT_EQ(report.errors[0].severity, FileError::Severity::kWarning);
  EXPECT_EQ(report.errors[0].path, PathOf("b.yaml"));
  EXPECT_EQ(report.errors[0].message,
            "Pod default/web is defined in both a.yaml and b.yaml; b.yaml wins");
  EXPECT_EQ(manifests.State().pods.at("default/web").node_name, "node-a");
}

TEST_F(ManifestDirectoryTest, DuplicateInsideOneFileIsAWarning) {
  Write("pods.yaml", std::string(kWebPod) + "---\n" + kWebPod);
  ManifestDirectory manifests(dir_);
  ReloadReport report = manifests.Reload();
  ASSERT_EQ(report.errors.size(), 1u);
  EXPECT_EQ(report.errors[0].severity, FileError::Severity::kWarning);
  EXPECT_EQ(report.errors[0].message,
            "Pod default/web is defined more than once in pods.yaml; the last definition wins");
}

TEST_F(ManifestDirectoryTest, MissingDirectoryKeepsState) {
  ManifestDirectory missing(PathOf("nope"));
  ReloadReport report = missing.Reload();
  ASSERT_EQ(report.errors.size(), 1u);
  EXPECT_EQ(report.errors[0].path, PathOf("nope"));
  EXPECT_FALSE(report.changed);

  fs::create_directory(PathOf("m"));
  Write("m/pods.yaml", kWebPod);
  ManifestDirectory manifests(PathOf("m"));
  ASSERT_TRUE(manifests.Reload().changed);
  fs::remove_all(PathOf("m"));
  report = manifests.Reload();
  EXPECT_EQ(report.errors.size(), 1u);
  EXPECT_FALSE(report.changed);
  EXPECT_EQ(manifests.State().pods.size(), 1u);
}

TEST_F(ManifestDirectoryTest, FollowsConfigMapVolumeSymlinks) {
  // The layout kubelet's atomic writer creates for a mounted ConfigMap.
  fs::create_directory(PathOf("..2024_01_01"));
  Write("..2024_01_01/pods.yaml", kWebPod);
  fs::create_directory_symlink("..2024_01_01", PathOf("..data"));
  fs::create_symlink("..data/pods.yaml", PathOf("pods.yaml"));
  ManifestDirectory manifests(dir_);
  ReloadReport report = manifests.Reload();
  EXPECT_TRUE(report.errors.empty());
  EXPECT_EQ(manifests.State().pods.size(), 1u);
}

// ---------------------------------------------------------------------------
// DirectoryWatcher. Events are queued by the time write/rename return, so a
// zero timeout reliably means "nothing relevant happened"; positive timeouts
// only bound a wait for events that are already there.

constexpr int kTimeoutMs = 5000;

class DirectoryWatcherTest : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    Result<DirectoryWatcher> watcher = DirectoryWatcher::Open(dir_);
    ASSERT_TRUE(watcher.ok()) << watcher.status().message();
    watcher_.emplace(std::move(watcher).value());
  }

  std::optional<DirectoryWatcher> watcher_;
};

TEST_F(DirectoryWatcherTest, SeesAWrite) {
  EXPECT_GE(watcher_->fd(), 0);
  EXPECT_FALSE(watcher_->Drain());
  Write("pods.yaml", kWebPod);
  EXPECT_TRUE(watcher_->WaitForChange(kTimeoutMs));
  EXPECT_FALSE(watcher_->WaitForChange(0));  // drained
}

TEST_F(DirectoryWatcherTest, SeesARenameIntoPlace) {
  Write(".pods.yaml.tmp", kWebPod);  // how editors and kubectl-like tools save
  EXPECT_FALSE(watcher_->WaitForChange(0));
  fs::rename(PathOf(".pods.yaml.tmp"), PathOf("pods.yaml"));
  EXPECT_TRUE(watcher_->WaitForChange(kTimeoutMs));
}

TEST_F(DirectoryWatcherTest, SeesDeleteAndRenameAway) {
  Write("a.yaml", kWebPod);
  Write("b.yaml", kWebPod);
  ASSERT_TRUE(watcher_->WaitForChange(kTimeoutMs));
  fs::remove(PathOf("a.yaml"));
  EXPECT_TRUE(watcher_->WaitForChange(kTimeoutMs));
  fs::rename(PathOf("b.yaml"), PathOf("b.yaml.disabled"));
  EXPECT_TRUE(watcher_->WaitForChange(kTimeoutMs));
}

TEST_F(DirectoryWatcherTest, IgnoresOtherFiles) {
  Write("notes.txt", "x");
  Write("pods.yaml~", "x");
  fs::create_directory(PathOf("sub.yaml"));
  EXPECT_FALSE(watcher_->WaitForChange(0));
}

TEST_F(DirectoryWatcherTest, SeesConfigMapSwap) {
  fs::create_directory(PathOf("..v2"));
  fs::create_directory_symlink("..v2", PathOf("..data_tmp"));
  EXPECT_FALSE(watcher_->WaitForChange(0));
  fs::rename(PathOf("..data_tmp"), PathOf("..data"));
  EXPECT_TRUE(watcher_->WaitForChange(kTimeoutMs));
}

TEST_F(DirectoryWatcherTest, MoveOnly) {
  int fd = watcher_->fd();
  DirectoryWatcher moved = std::move(*watcher_);
  EXPECT_EQ(moved.fd(), fd);
  EXPECT_EQ(watcher_->fd(), -1);
  EXPECT_FALSE(watcher_->WaitForChange(0));
  Write("pods.yaml", kWebPod);
  EXPECT_TRUE(moved.WaitForChange(kTimeoutMs));
}

TEST_F(TempDirTest, WatcherOpenErrors) {
  Result<DirectoryWatcher> missing = DirectoryWatcher::Open(PathOf("nope"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), ENOENT);
  Write("file.yaml", "");
  Result<DirectoryWatcher> file = DirectoryWatcher::Open(PathOf("file.yaml"));
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), ENOTDIR);
}

}  // namespace
}  // namespace kubedp::source
