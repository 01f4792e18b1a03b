#include "datapath/conntrack_sweeper.h"

#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "datapath/conntrack_map.h"  // MonotonicNowNs

namespace kubedp::datapath {

Result<std::unique_ptr<ConntrackSweeper>> ConntrackSweeper::Start(const GcProgram& gc) {
  UniqueFd done(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!done.valid()) return Status::FromErrno(errno, "creating the sweeper's eventfd");
  std::unique_ptr<ConntrackSweeper> sweeper(new ConntrackSweeper(gc, std::move(done)));
  sweeper->thread_ = std::thread([s = sweeper.get()] { s->Loop(); });
  return sweeper;
}

ConntrackSweeper::~ConntrackSweeper() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void ConntrackSweeper::Request(bool urgent) {
  {
    std::lock_guard lock(mutex_);
    if (requested_ || busy_) return;
    requested_ = true;
    urgent_ = urgent;
  }
  wake_.notify_one();
}

std::optional<SweepOutcome> ConntrackSweeper::Take() {
  uint64_t count = 0;
  (void)!read(done_.get(), &count, sizeof(count));  // clears the eventfd
  std::lock_guard lock(mutex_);
  return std::exchange(finished_, std::nullopt);
}

void ConntrackSweeper::Loop() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [&] { return requested_ || stopping_; });
    if (stopping_) return;
    bool urgent = urgent_;
    requested_ = false;
    busy_ = true;
    lock.unlock();
    SweepOutcome outcome = SweepOnce(urgent);
    lock.lock();
    busy_ = false;
    finished_ = std::move(outcome);
    uint64_t one = 1;
    (void)!write(done_.get(), &one, sizeof(one));
  }
}

SweepOutcome ConntrackSweeper::SweepOnce(bool urgent) {
  // Per thread on Linux: only this thread changes class.
  sched_param none{};
  sched_setscheduler(0, urgent ? SCHED_OTHER : SCHED_IDLE, &none);
  SweepOutcome outcome;
  auto swept = gc_.ExpireConntrack(MonotonicNowNs());
  if (!swept.ok()) {
    outcome.error = swept.status().message();
    return outcome;
  }
  outcome.removed = swept->removed;
  outcome.remaining = swept->remaining;
  return outcome;
}

}  // namespace kubedp::datapath
