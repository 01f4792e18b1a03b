#include "bench/conntrack_scale.h"

#include <bpf/bpf.h>
#include <time.h>
#include <unistd.h>

#include <fstream>
#include <limits>
#include <string>

#include "common/fd.h"
#include "datapath/conntrack_map.h"
#include "datapath/gc_program.h"
#include "datapath/pins.h"
#include "kubedp/abi.h"

namespace kubedp::bench {
namespace {

double ThreadCpuSeconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + now.tv_nsec / 1e9;
}

// The kernel's account of the map's memory (fdinfo "memlock").
uint64_t MemlockBytes(int fd) {
  std::ifstream info("/proc/self/fdinfo/" + std::to_string(fd));
  for (std::string line; std::getline(info, line);) {
    if (line.rfind("memlock:", 0) == 0) return std::stoull(line.substr(8));
  }
  return 0;
}

// The synthetic flow number `flow`: 10.244.0.x:port -> 10.245.0.0:80.
kdp_ct_key SyntheticFlow(uint32_t flow) {
  return kdp_ct_key{.addr_a = 0x0af40000u + (flow >> 16),
                    .addr_b = 0x0af50000u,
                    .port_a = static_cast<uint16_t>(flow & 0xffff),
                    .port_b = 80,
                    .protocol = 6};
}

}  // namespace

Status RemoveSyntheticConntrack(int fd, uint32_t count) {
  for (uint32_t flow = 0; flow < count; ++flow) {
    kdp_ct_key key = SyntheticFlow(flow);
    if (bpf_map_delete_elem(fd, &key) != 0 && errno != ENOENT) {
      return Status::FromErrno(errno, "removing the synthetic conntrack records");
    }
  }
  return Status::Ok();
}

Status FillConntrack(int fd, uint32_t count, bool half_expired) {
  constexpr uint32_t kBatch = 4096;
  std::vector<kdp_ct_key> keys(kBatch);
  std::vector<kdp_ct_entry> values(kBatch);
  for (uint32_t start = 0; start < count; start += kBatch) {
    uint32_t n = std::min(kBatch, count - start);
    for (uint32_t i = 0; i < n; ++i) {
      uint32_t flow = start + i;
      keys[i] = SyntheticFlow(flow);
      values[i] = kdp_ct_entry{};
      values[i].state = KDP_CT_ESTABLISHED;
      bool expired = half_expired && flow % 2;
      values[i].expires_ns = expired ? 1 : std::numeric_limits<uint64_t>::max() / 2;
    }
    uint32_t written = n;
    if (bpf_map_update_batch(fd, keys.data(), values.data(), &written, nullptr) != 0) {
      return Status::FromErrno(errno, "filling the conntrack map");
    }
  }
  return Status::Ok();
}

Result<std::vector<Row>> MeasureConntrackScale(const CtScaleOptions& options) {
  // The node's real kdp_ct, sized to the benchmark, in a private pin directory.
  std::string pin_name = "kubedp-bpftest-bench-ct-" + std::to_string(getpid());
  KUBEDP_RETURN_IF_ERROR(datapath::EnsureBpffsMounted());
  KUBEDP_RETURN_IF_ERROR(datapath::CreateNodePinDir(pin_name));
  struct PinsGone {
    std::string name;
    ~PinsGone() { (void)datapath::RemoveNodePinDir(name); }
  } pins_gone{pin_name};
  auto gc = datapath::GcProgram::Load(datapath::NodePinDir(pin_name),
                                      {.ct_max_entries = options.entries});
  if (!gc.ok()) return gc.status();
  UniqueFd fd(bpf_obj_get((datapath::NodePinDir(pin_name) + "/" + KDP_MAP_CT).c_str()));
  if (!fd.valid()) return Status::FromErrno(errno, "opening the pinned conntrack map");
  std::string count = std::to_string(options.entries / 1000) + "k";
  Row memory{.name = "conntrack: memory per entry, " + count + " entries",
             .unit = "B/entry",
             .higher_is_better = false,
             .baseline_name = "key + value bytes",
             .goal = "<= 150 B"};
  Row sweep{.name = "conntrack: GC sweep of " + count + " entries (half expired)",
            .unit = "CPU s",
            .higher_is_better = false,
            .baseline_name = "the same sweep from user space",
            .goal = "<= 1 s of one core"};
  for (int round = 0; round < options.rounds; ++round) {
    // B: the key-by-key sweep from user space; A: the agent's sweep (batch
    // reads, deletions re-checked in the kernel).
    KUBEDP_RETURN_IF_ERROR(FillConntrack(fd.get(), options.entries, /*half_expired=*/true));
    memory.kubedp.push_back(static_cast<double>(MemlockBytes(fd.get())) / options.entries);
    memory.baseline.push_back(sizeof(kdp_ct_key) + sizeof(kdp_ct_entry));
    double start = ThreadCpuSeconds();
    auto swept = datapath::CtMap(fd.get()).Sweep(datapath::MonotonicNowNs());
    if (!swept.ok()) return swept.status();
    sweep.baseline.push_back(ThreadCpuSeconds() - start);

    KUBEDP_RETURN_IF_ERROR(FillConntrack(fd.get(), options.entries, /*half_expired=*/true));
    start = ThreadCpuSeconds();
    auto kernel = (*gc)->ExpireConntrack(datapath::MonotonicNowNs());
    if (!kernel.ok()) return kernel.status();
    sweep.kubedp.push_back(ThreadCpuSeconds() - start);
    // Nothing expired may be left (the LRU map may have evicted some of the
    // fill, so the count removed is not checked against the fill).
    auto left = datapath::CtMap(fd.get()).Sweep(datapath::MonotonicNowNs());
    if (!left.ok()) return left.status();
    if (*left != 0) {
      return Status::Error(EIO,
                           "the kernel sweep left " + std::to_string(*left) + " expired records");
    }
  }
  memory.met = memory.KubedpFigure() <= 150;
  // The goal is for a million entries; a smaller table scales it linearly.
  sweep.met = sweep.KubedpFigure() * (1'000'000.0 / options.entries) <= 1.0;
  return std::vector<Row>{memory, sweep};
}

}  // namespace kubedp::bench
