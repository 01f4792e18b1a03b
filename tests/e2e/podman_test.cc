// A real container runtime drives the CNI plugin: podman (CNI backend, runc,
// a busybox rootfs) runs containers on a lab node through kubedp-cni. Podman
// runs with the node's network namespace, so the plugin makes the host-side
// veths where the node's agent lives, but keeps the host's mount namespace, so
// the container namespaces it bind-mounts under /run/netns outlive each call.
// Everything podman keeps lives in a private directory under /tmp.
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>

#include "common/ip.h"
#include "e2e/lab_fixture.h"
#include "lab/process.h"
#include "netdev/netdev.h"

namespace kubedp {
namespace {

namespace fs = std::filesystem;
using testing::AgentCall;
using testing::Counted;
using Clock = std::chrono::steady_clock;

constexpr const char* kLibcniResults = "/var/lib/cni/results";
constexpr const char* kRuncState = "/run/runc";
// PID 1 of every container: exits at once on SIGTERM, so removal never waits.
constexpr const char* kContainerCommand = "trap \"exit 0\" TERM; sleep 1000 & wait";

std::string NetnsPath(const std::string& name) {
  return "/run/netns/" + name;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Trim(std::string text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  return text;
}

// Polls (20 ms steps) until done() or the timeout; returns done()'s last answer.
bool PollUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

struct Output {
  int exit_code = -1;
  std::string out;
  std::string err;
  std::string Describe() const {
    return "exit code " + std::to_string(exit_code) + "\nstdout: " + out + "\nstderr: " + err;
  }
};

// Runs argv to completion with stdout and stderr in files (a daemon that
// inherits them, like conmon, cannot hold the caller up); killed after timeout.
Output Exec(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
            const std::string& scratch_dir,
            std::chrono::seconds timeout = std::chrono::seconds(60)) {
  Output result;
  std::string out_path = scratch_dir + "/exec.out";
  std::string err_path = scratch_dir + "/exec.err";
  int out_fd = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int err_fd = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  std::vector<std::string> env_storage;
  for (char** e = environ; *e; ++e) {
    std::string entry(*e);
    if (!env.count(entry.substr(0, entry.find('=')))) env_storage.push_back(entry);
  }
  for (const auto& [key, value] : env) env_storage.push_back(key + "=" + value);
  std::vector<char*> args, envp;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = (out_fd < 0 || err_fd < 0 || null_fd < 0) ? -1 : fork();
  if (pid == 0) {
    dup2(null_fd, 0);
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    execve(args[0], args.data(), envp.data());
    _exit(127);
  }
  for (int fd : {out_fd, err_fd, null_fd}) {
    if (fd >= 0) close(fd);
  }
  if (pid < 0) {
    result.err = "cannot start " + argv[0] + ": " + std::strerror(errno);
    return result;
  }
  int status = 0;
  bool exited = PollUntil([&] { return waitpid(pid, &status, WNOHANG) == pid; }, timeout);
  if (!exited) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = ReadFile(out_path);
  result.err = ReadFile(err_path);
  if (!exited) result.err += "\n(killed after " + std::to_string(timeout.count()) + " s)";
  return result;
}

// Processes whose command line mentions text (conmon names podman's directories).
std::vector<pid_t> ProcessesMentioning(const std::string& text) {
  std::vector<pid_t> pids;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    pid_t pid = atoi(entry.path().filename().c_str());
    if (pid <= 0 || pid == getpid()) continue;
    std::string cmdline = ReadFile(entry.path().string() + "/cmdline");
    if (cmdline.find(text) != std::string::npos) pids.push_back(pid);
  }
  return pids;
}

// Mount points at or below dir (podman's shm mounts live in its storage).
std::vector<std::string> MountsUnder(const std::string& dir) {
  std::vector<std::string> mounts;
  std::ifstream in("/proc/self/mountinfo");
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string id, parent, device, root, mount_point;
    fields >> id >> parent >> device >> root >> mount_point;
    if (mount_point == dir || mount_point.rfind(dir + "/", 0) == 0) mounts.push_back(mount_point);
  }
  // Deepest first.
  std::sort(mounts.begin(), mounts.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  return mounts;
}

struct Container {
  std::string node;
  std::string id;       // full 64-hex podman ID, the CNI_CONTAINERID
  std::string sandbox;  // podman's netns bind mount, the CNI_NETNS
  std::string ip;       // as podman read it from the CNI result
};

class Podman : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    lab_ = testing::UniqueLabName("e2e-podman");
    Status up = lab::Up(testing::ManifestPath("podman-node.yaml"), {.name_override = lab_});
    ASSERT_TRUE(up.ok()) << up.message();

    char dir_template[] = "/tmp/kubedp-e2e-podman-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr) << "a private directory for podman";
    dir_ = dir_template;
    created_libcni_dir_ = !fs::exists("/var/lib/cni");

    Output version = Exec({"/usr/bin/env", "podman", "--version"}, {}, dir_);
    ASSERT_EQ(version.exit_code, 0) << "podman must be installed (scripts/install-deps.sh installs "
                                       "podman, runc, conmon and busybox-static): "
                                    << version.Describe();
    ASSERT_TRUE(fs::exists("/bin/busybox")) << "busybox-static provides the containers' rootfs";

    // The rootfs: static busybox and the applets the containers use.
    std::string rootfs = dir_ + "/rootfs";
    for (const char* sub : {"bin", "etc", "proc", "sys", "dev", "tmp", "run", "var"}) {
      fs::create_directories(rootfs + "/" + sub);
    }
    fs::copy_file("/bin/busybox", rootfs + "/bin/busybox");
    for (const char* applet : {"sh", "sleep", "ping", "ip", "cat"}) {
      fs::create_symlink("busybox", rootfs + "/bin/" + applet);
    }
    std::ofstream(rootfs + "/etc/passwd") << "root:x:0:0:root:/root:/bin/sh\n";
    std::ofstream(rootfs + "/etc/group") << "root:x:0:\n";

    // The plugin dir holds kubedp-cni only; one network per node, each naming
    // its node's agent socket.
    fs::create_directories(dir_ + "/cni-bin");
    fs::create_directories(dir_ + "/cni-conf");
    fs::create_symlink(lab::SelfDir() + "/kubedp-cni", dir_ + "/cni-bin/kubedp-cni");
    for (const char* node : {"node1", "node2"}) {
      api::Json conflist{
          {"cniVersion", "1.0.0"},
          {"name", Network(node)},
          {"plugins", api::Json::array({api::Json{{"type", "kubedp-cni"},
                                                  {"agentSocket", lab::NodeSocket(lab_, node)}}})}};
      std::ofstream(dir_ + "/cni-conf/" + Network(node) + ".conflist") << conflist.dump(2);
    }

    // Podman's own configuration: nothing of the machine's podman state is used.
    std::ofstream(dir_ + "/containers.conf")
        << "[network]\n"
        << "network_backend = \"cni\"\n"
        << "cni_plugin_dirs = [\"" << dir_ << "/cni-bin\"]\n"
        << "network_config_dir = \"" << dir_ << "/cni-conf\"\n"
        << "default_network = \"" << Network("node1") << "\"\n"
        << "[engine]\n"
        << "runtime = \"runc\"\n"
        << "lock_type = \"file\"\n"
        << "cgroup_manager = \"cgroupfs\"\n"
        << "events_logger = \"file\"\n"
        << "events_logfile_path = \"" << dir_ << "/runroot/events.log\"\n"
        << "tmp_dir = \"" << dir_ << "/tmp\"\n"
        << "volume_path = \"" << dir_ << "/storage/volumes\"\n"
        << "static_dir = \"" << dir_ << "/storage/libpod\"\n";
    std::ofstream(dir_ + "/storage.conf") << "[storage]\n"
                                          << "driver = \"vfs\"\n"
                                          << "graphroot = \"" << dir_ << "/storage\"\n"
                                          << "runroot = \"" << dir_ << "/runroot\"\n";
    ready_ = true;
  }

  static void TearDownTestSuite() {
    if (!dir_.empty()) CleanUpPodman();
    ready_ = false;
    EXPECT_TRUE(lab::Down(lab_).ok()) << "lab " << lab_ << " should come down";
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
    EXPECT_FALSE(ec) << "removing " << dir_ << ": " << ec.message();
    dir_.clear();
  }

  void SetUp() override { ASSERT_TRUE(ready_) << "the lab and podman setup must have succeeded"; }

  // Each test leaves both nodes without containers and without allocations.
  void TearDown() override {
    if (!ready_) return;
    RemoveTracked();
    for (const char* node : {"node1", "node2"}) {
      api::Json left;
      bool empty = PollUntil(
          [&] {
            left = AgentCall(lab_, "ipam.list", node);
            return left.empty();
          },
          std::chrono::seconds(10));
      EXPECT_TRUE(empty) << node
                         << " should hold no address once its containers are gone: " << left.dump();
    }
  }

  static std::string Network(const std::string& node) { return "kdp-" + lab_ + "-" + node; }

  // podman with the node's network namespace and the host's mount namespace.
  static Output RunPodman(const std::string& node, const std::vector<std::string>& args) {
    std::vector<std::string> argv{"/usr/bin/env",
                                  "nsenter",
                                  "--net=" + NetnsPath(lab::NodeNetns(lab_, node)),
                                  "--",
                                  "podman",
                                  "--root",
                                  dir_ + "/storage",
                                  "--runroot",
                                  dir_ + "/runroot",
                                  "--tmpdir",
                                  dir_ + "/tmp",
                                  "--storage-driver",
                                  "vfs",
                                  "--runtime",
                                  "runc",
                                  "--cgroup-manager",
                                  "cgroupfs"};
    argv.insert(argv.end(), args.begin(), args.end());
    return Exec(argv,
                {{"CONTAINERS_CONF", dir_ + "/containers.conf"},
                 {"CONTAINERS_STORAGE_CONF", dir_ + "/storage.conf"}},
                dir_);
  }

  // `podman run -d` on the node's network; on success the container's ID,
  // netns and IP as podman reports them are recorded.
  static Output Start(const std::string& node, const std::string& name) {
    tracked_[name] = Container{node, "", "", ""};
    Output run = RunPodman(node, {"run", "-d", "--name", name, "--network", Network(node),
                                  "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
                                  "--rootfs", dir_ + "/rootfs", "sh", "-c", kContainerCommand});
    if (run.exit_code != 0) return run;
    Container& c = tracked_[name];
    c.id = Trim(run.out);
    ids_.push_back(c.id);
    Output inspect =
        RunPodman(node, {"inspect", "--format",
                         "{{.NetworkSettings.SandboxKey}} {{(index .NetworkSettings.Networks \"" +
                             Network(node) + "\").IPAddress}}",
                         name});
    std::istringstream fields(inspect.out);
    fields >> c.sandbox >> c.ip;
    if (!c.sandbox.empty()) sandboxes_.push_back(c.sandbox);
    return run;
  }

  static Output Remove(const std::vector<std::string>& names) {
    if (names.empty()) return Output{0, "", ""};
    std::vector<std::string> args{"rm", "-f", "-t", "0"};
    args.insert(args.end(), names.begin(), names.end());
    Output rm = RunPodman(tracked_[names.front()].node, args);
    if (rm.exit_code == 0) {
      for (const auto& name : names) tracked_.erase(name);
    }
    return rm;
  }

  static void RemoveTracked() {
    std::map<std::string, std::vector<std::string>> by_node;
    for (const auto& [name, container] : tracked_) by_node[container.node].push_back(name);
    for (const auto& [node, names] : by_node) {
      Output rm = Remove(names);
      EXPECT_EQ(rm.exit_code, 0) << "podman rm -f should remove the containers of " << node << ": "
                                 << rm.Describe();
    }
    tracked_.clear();
  }

  // Everything podman made: containers, conmon, namespaces, runc state, mounts
  // and libcni's result cache.
  static void CleanUpPodman() {
    if (ready_) {
      RemoveTracked();
      Output rm_all = RunPodman("node1", {"rm", "-f", "-a", "-t", "0"});
      EXPECT_EQ(rm_all.exit_code, 0) << "podman rm -f -a should succeed: " << rm_all.Describe();
    }

    std::vector<pid_t> conmons;
    bool gone = PollUntil(
        [&] {
          conmons = ProcessesMentioning(dir_);
          return conmons.empty();
        },
        std::chrono::seconds(5));
    EXPECT_TRUE(gone) << conmons.size() << " podman process(es) (conmon) should have exited";
    for (pid_t pid : conmons) kill(pid, SIGKILL);

    for (const auto& sandbox : sandboxes_) {
      if (!fs::exists(sandbox)) continue;
      ADD_FAILURE() << "podman should have removed its container netns " << sandbox;
      Exec({"/usr/bin/env", "ip", "netns", "delete", fs::path(sandbox).filename().string()}, {},
           dir_);
    }
    sandboxes_.clear();
    std::error_code ec;
    for (const auto& id : ids_) {
      std::string state = std::string(kRuncState) + "/" + id;
      if (!fs::exists(state)) continue;
      ADD_FAILURE() << "runc should have removed the state of container " << id;
      fs::remove_all(state, ec);
    }
    ids_.clear();
    for (const auto& mount : MountsUnder(dir_)) umount2(mount.c_str(), MNT_DETACH);

    // libcni caches each ADD result and drops it on DEL: a skipped DEL (the
    // leak scenario) leaves one behind.
    for (const auto& entry : fs::directory_iterator(kLibcniResults, ec)) {
      std::string file = entry.path().filename().string();
      for (const char* node : {"node1", "node2"}) {
        if (file.rfind(Network(node) + "-", 0) == 0) fs::remove(entry.path(), ec);
      }
    }
    if (created_libcni_dir_) {
      fs::remove(kLibcniResults, ec);  // only when empty
      fs::remove("/var/lib/cni", ec);
    }
  }

  // The node's allocations by pod name (the container name, in namespace default).
  static std::map<std::string, api::Json> Allocations(const std::string& node) {
    std::map<std::string, api::Json> by_pod;
    for (const auto& row : AgentCall(lab_, "ipam.list", node)) by_pod[row["pod"]] = row;
    return by_pod;
  }

  static bool InRange(const std::string& ip, const std::string& cidr) {
    auto address = ParseIpv4(ip);
    auto range = Ipv4Cidr::Parse(cidr);
    return address.ok() && range.ok() && range->Contains(*address);
  }

  static int LinkIndexIn(const std::string& node, const std::string& link) {
    auto guard = netdev::NetnsGuard::Enter(NetnsPath(lab::NodeNetns(lab_, node)));
    if (!guard.ok()) return -1;
    auto index = netdev::LinkIndex(link);
    return index.ok() ? *index : -1;
  }

  static std::string lab_;
  static std::string dir_;
  static bool ready_;
  static bool created_libcni_dir_;
  static std::map<std::string, Container> tracked_;  // by name: containers that may exist
  static std::vector<std::string> sandboxes_;        // every netns podman reported
  static std::vector<std::string> ids_;              // every container ID podman reported
};
std::string Podman::lab_;
std::string Podman::dir_;
bool Podman::ready_ = false;
bool Podman::created_libcni_dir_ = false;
std::map<std::string, Container> Podman::tracked_;
std::vector<std::string> Podman::sandboxes_;
std::vector<std::string> Podman::ids_;

TEST_F(Podman, ContainersGetPodAddressesAndReachEachOtherThroughTheDatapath) {
  for (const char* name : {"c1", "c2"}) {
    Output run = Start("node1", name);
    ASSERT_EQ(run.exit_code, 0) << "podman run " << name << " should succeed: " << run.Describe();
  }
  auto held = Allocations("node1");
  ASSERT_EQ(held.size(), 2u) << "one address per container: "
                             << AgentCall(lab_, "ipam.list", "node1").dump();
  for (const char* name : {"c1", "c2"}) {
    ASSERT_TRUE(held.count(name)) << "an allocation for pod " << name;
    const api::Json& row = held[name];
    const Container& c = tracked_[name];
    EXPECT_EQ(row["namespace"], "default") << "podman passes no K8S_POD_NAMESPACE";
    EXPECT_EQ(row["container_id"], c.id) << "CNI_CONTAINERID is podman's container ID";
    EXPECT_EQ(row["netns"], c.sandbox) << "CNI_NETNS is podman's SandboxKey";
    EXPECT_EQ(row["ifname"], "eth0") << "podman names the first interface eth0";
    EXPECT_TRUE(InRange(row["ip"].get<std::string>(), "10.244.7.0/24"))
        << row["ip"] << " should be in node1's range";
    EXPECT_EQ(row["ip"], c.ip) << "podman should report the address kubedp allocated";
    EXPECT_EQ(row["live"], true) << "a running container's netns exists";
  }
  ASSERT_NE(held["c1"]["ip"], held["c2"]["ip"]) << "two containers, two addresses";

  uint64_t forwarded_before = Counted(lab_, "forwarded");
  std::string c2_ip = held["c2"]["ip"];
  Output ping = RunPodman("node1", {"exec", "c1", "ping", "-c", "3", "-W", "1", c2_ip});
  EXPECT_EQ(ping.exit_code, 0) << "c1 should ping c2 at " << c2_ip << ": " << ping.Describe();
  // Three requests and three replies, each redirected by the program.
  EXPECT_GE(Counted(lab_, "forwarded") - forwarded_before, 6u)
      << "every echo request and reply should be forwarded by kdp_from_pod";
}

TEST_F(Podman, RemovingContainersCallsDelAndFreesTheirAddresses) {
  for (const char* name : {"d1", "d2"}) {
    Output run = Start("node1", name);
    ASSERT_EQ(run.exit_code, 0) << "podman run " << name << " should succeed: " << run.Describe();
  }
  auto held = Allocations("node1");
  ASSERT_EQ(held.size(), 2u) << "one address per container";
  std::vector<std::string> veths{held["d1"]["interface"].get<std::string>(),
                                 held["d2"]["interface"].get<std::string>()};
  for (const auto& veth : veths) {
    EXPECT_GT(LinkIndexIn("node1", veth), 0) << "host-side veth " << veth << " in the node";
  }
  uint64_t reclaimed_before = AgentCall(lab_, "status", "node1")["ipam"]["reclaimed"];

  Output rm = Remove({"d1", "d2"});
  ASSERT_EQ(rm.exit_code, 0) << "podman rm -f should succeed: " << rm.Describe();
  api::Json left;
  bool freed = PollUntil(
      [&] {
        left = AgentCall(lab_, "ipam.list", "node1");
        return left.empty();
      },
      std::chrono::seconds(5));
  EXPECT_TRUE(freed) << "DEL should free both addresses: " << left.dump();
  api::Json status = AgentCall(lab_, "status", "node1");
  EXPECT_EQ(status["ipam"]["allocated"], 0) << status["ipam"].dump();
  EXPECT_EQ(status["endpoints"], 0) << "no endpoint should stay in the datapath";
  EXPECT_EQ(status["ipam"]["reclaimed"], reclaimed_before)
      << "the addresses should come back through CNI DEL, not the reclaim";
  for (const auto& veth : veths) {
    EXPECT_EQ(LinkIndexIn("node1", veth), 0) << "DEL should delete host-side veth " << veth;
  }
}

// Podman skips DEL when the container's netns vanished behind its back: the
// agent finds the allocation's netns gone, no pod of that name on the node, and
// frees it once the grace period (3 s, podman-node.yaml) has passed.
TEST_F(Podman, AddressWhoseDelWasSkippedIsReclaimedByTheAgent) {
  uint64_t reclaimed_before = AgentCall(lab_, "status", "node1")["ipam"]["reclaimed"];
  auto started = Clock::now();
  Output run = Start("node1", "leak1");
  ASSERT_EQ(run.exit_code, 0) << "podman run leak1 should succeed: " << run.Describe();
  const std::string sandbox = tracked_["leak1"].sandbox;
  ASSERT_EQ(sandbox.rfind("/run/netns/", 0), 0u) << "podman's netns of leak1: " << sandbox;

  Output deleted = Exec(
      {"/usr/bin/env", "ip", "netns", "delete", fs::path(sandbox).filename().string()}, {}, dir_);
  ASSERT_EQ(deleted.exit_code, 0) << "ip netns delete should succeed: " << deleted.Describe();
  Output rm = Remove({"leak1"});
  EXPECT_EQ(rm.exit_code, 0) << "podman rm -f succeeds without DEL: " << rm.Describe();

  auto held = Allocations("node1");
  auto elapsed = Clock::now() - started;
  // Only meaningful while the allocation is younger than the grace period;
  // created_at has one-second resolution, hence the second of margin.
  if (elapsed < std::chrono::seconds(2)) {
    ASSERT_TRUE(held.count("leak1"))
        << "without DEL the address should still be held right after podman rm";
    EXPECT_EQ(held["leak1"]["netns_exists"], false) << held["leak1"].dump();
    EXPECT_EQ(held["leak1"]["live"], false) << "no netns, no pod object: not live";
  } else {
    std::cerr << "note: podman took " << std::chrono::duration<double>(elapsed).count()
              << " s, too close to the grace period to check that leak1 was still held\n";
  }

  api::Json left;
  bool reclaimed = PollUntil(
      [&] {
        left = AgentCall(lab_, "ipam.list", "node1");
        return left.empty();
      },
      std::chrono::seconds(10));
  EXPECT_TRUE(reclaimed) << "the periodic reclaim should free leak1's address: " << left.dump();
  EXPECT_EQ(AgentCall(lab_, "status", "node1")["ipam"]["reclaimed"], reclaimed_before + 1)
      << "exactly one address should have been reclaimed";

  run = Start("node1", "after-leak");
  ASSERT_EQ(run.exit_code, 0) << "a new container should start after the reclaim: "
                              << run.Describe();
  held = Allocations("node1");
  ASSERT_TRUE(held.count("after-leak")) << "an allocation for after-leak";
  EXPECT_TRUE(InRange(held["after-leak"]["ip"].get<std::string>(), "10.244.7.0/24"))
      << held["after-leak"].dump();
}

// node2's /28 has 13 usable addresses (network, gateway and broadcast excluded).
TEST_F(Podman, ExhaustedRangeRefusesTheNextContainerUntilOneIsRemoved) {
  for (int i = 1; i <= 13; ++i) {
    std::string name = "x" + std::to_string(i);
    Output run = Start("node2", name);
    ASSERT_EQ(run.exit_code, 0) << "podman run " << name << " should succeed: " << run.Describe();
  }
  api::Json ipam = AgentCall(lab_, "status", "node2")["ipam"];
  EXPECT_EQ(ipam["usable"], 13) << ipam.dump();
  EXPECT_EQ(ipam["allocated"], 13) << ipam.dump();
  uint64_t exhaustion_before = ipam["exhaustion_events"];

  Output refused = Start("node2", "x14");
  EXPECT_NE(refused.exit_code, 0) << "the 14th container should not start: " << refused.Describe();
  EXPECT_NE(refused.err.find("no free address in pod range 10.244.8.0/28"), std::string::npos)
      << "podman should show the plugin's error: " << refused.Describe();

  api::Json status = AgentCall(lab_, "status", "node2");
  bool reported = false;
  for (const auto& error : status["recent_errors"]) {
    std::string message = error["message"];
    reported |= message.find("no free address in pod range") != std::string::npos &&
                message.find("kubedp ipam gc") != std::string::npos;
  }
  EXPECT_TRUE(reported) << "recent_errors should name the exhaustion and 'kubedp ipam gc': "
                        << status["recent_errors"].dump();
  EXPECT_EQ(status["ipam"]["exhaustion_events"], exhaustion_before + 1) << status["ipam"].dump();
  auto held = Allocations("node2");
  EXPECT_EQ(held.size(), 13u) << "the refused container should hold nothing";
  EXPECT_FALSE(held.count("x14")) << "the refused container should hold nothing";

  std::string freed_ip = held["x5"]["ip"];
  Output rm = Remove({"x14", "x5"});
  ASSERT_EQ(rm.exit_code, 0) << "podman rm -f should succeed: " << rm.Describe();
  ASSERT_TRUE(PollUntil([&] { return Allocations("node2").size() == 12; }, std::chrono::seconds(5)))
      << "DEL of x5 should free one address";

  Output run = Start("node2", "x15");
  ASSERT_EQ(run.exit_code, 0) << "with one address free a container should start: "
                              << run.Describe();
  held = Allocations("node2");
  ASSERT_TRUE(held.count("x15")) << "an allocation for x15";
  EXPECT_EQ(held["x15"]["ip"], freed_ip) << "the only free address is the one x5 held";
}

}  // namespace
}  // namespace kubedp
