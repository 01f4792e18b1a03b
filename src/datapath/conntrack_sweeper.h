// The conntrack sweep on a thread of its own, at idle CPU priority: pods'
// traffic (and everything else on the node) always comes first, and the
// sweep's short calls let the scheduler step in between any two. Once the
// table is under pressure the sweep runs at normal priority instead, so a
// busy node cannot starve it while its table fills.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/fd.h"
#include "common/result.h"
#include "datapath/gc_program.h"

namespace kubedp::datapath {

struct SweepOutcome {
  uint64_t removed = 0;
  uint64_t remaining = 0;  // records left in the table
  std::string error;       // empty when the sweep succeeded
};

class ConntrackSweeper {
 public:
  // gc (which holds the conntrack map) must outlive the sweeper.
  static Result<std::unique_ptr<ConntrackSweeper>> Start(const GcProgram& gc);
  ~ConntrackSweeper();
  ConntrackSweeper(const ConntrackSweeper&) = delete;
  ConntrackSweeper& operator=(const ConntrackSweeper&) = delete;

  // Asks for one sweep (none if one is pending or running); urgent sweeps
  // run at normal priority.
  void Request(bool urgent);
  // Readable once a sweep finished: for a caller's poll loop.
  int fd() const { return done_.get(); }
  // The outcome of the last finished sweep, once (nullopt when none is new).
  std::optional<SweepOutcome> Take();

 private:
  ConntrackSweeper(const GcProgram& gc, UniqueFd done) : gc_(gc), done_(std::move(done)) {}
  void Loop();
  SweepOutcome SweepOnce(bool urgent);

  const GcProgram& gc_;
  UniqueFd done_;  // eventfd
  std::mutex mutex_;
  std::condition_variable wake_;
  bool requested_ = false, urgent_ = false, busy_ = false, stopping_ = false;
  std::optional<SweepOutcome> finished_;
  std::thread thread_;
};

}  // namespace kubedp::datapath
