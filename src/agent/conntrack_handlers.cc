// Conntrack in the agent: listing and flushing for the CLI, the fill and
// pressure for status, and the sweeper that removes expired records.
#include <chrono>

#include "agent/agent.h"
#include "common/log.h"
#include "datapath/conntrack_map.h"

namespace kubedp::agent {
using api::Json;

namespace {

// Above this fill, status warns: the LRU map would start evicting live flows.
constexpr double kPressureFill = 0.9;

Json RowJson(const control::CtRow& row) {
  return Json{{"protocol", row.protocol},
              {"source", row.source},
              {"source_port", row.source_port},
              {"destination", row.destination},
              {"destination_port", row.destination_port},
              {"state", row.state},
              {"packets_original", row.packets_original},
              {"packets_reply", row.packets_reply},
              {"bytes_original", row.bytes_original},
              {"bytes_reply", row.bytes_reply},
              {"age_seconds", row.age_seconds},
              {"expires_in_seconds", row.expires_in_seconds}};
}

}  // namespace

Result<Json> Agent::ListConntrack(const Json& params) {
  control::CtFilter filter;
  if (params.contains("address")) filter.address = params["address"].get<std::string>();
  if (params.contains("port")) filter.port = params["port"].get<uint16_t>();
  if (params.contains("protocol")) filter.protocol = params["protocol"].get<std::string>();
  auto rows = datapath::CtMap(program_->CtFd()).List(filter);
  if (!rows.ok()) return rows.status();
  Json out = Json::array();
  for (const auto& row : *rows) out.push_back(RowJson(row));
  return out;
}

Result<Json> Agent::FlushConntrack() {
  auto flushed = datapath::CtMap(program_->CtFd()).Flush();
  if (!flushed.ok()) return flushed.status();
  log::Info("conntrack flushed", {{"entries", std::to_string(*flushed)}});
  return Json{{"flushed", *flushed}};
}

bool UnderPressure(uint64_t entries, uint32_t max_entries) {
  return entries >= kPressureFill * max_entries;
}

Json MapFillJson(uint64_t entries, uint32_t max_entries) {
  return Json{{"entries", entries},
              {"max_entries", max_entries},
              {"fill", static_cast<double>(entries) / max_entries},
              {"pressure", UnderPressure(entries, max_entries)}};
}

Json Agent::ConntrackSummary() {
  auto count = datapath::CtMap(program_->CtFd()).Count();
  Json summary = MapFillJson(count.ok() ? *count : 0, config_.ct_max_entries);
  summary["swept_total"] = ct_swept_total_;
  summary["last_sweep_removed"] = ct_last_sweep_removed_;
  return summary;
}

// Only expires: right after a restart, while state is being restored, no live
// flow can be removed by it. The sweep runs on the sweeper's thread (idle
// priority unless the table is under pressure); ConsumeConntrackSweep takes
// its outcome.
void Agent::SweepConntrackPeriodically() {
  auto now = std::chrono::steady_clock::now();
  if (now < next_ct_sweep_) return;
  next_ct_sweep_ = now + std::chrono::seconds(config_.ct_gc_interval_seconds);
  ct_sweeper_->Request(/*urgent=*/ct_under_pressure_);
}

void Agent::ConsumeConntrackSweep() {
  auto outcome = ct_sweeper_->Take();
  if (!outcome) return;
  if (!outcome->error.empty()) {
    RecordError("conntrack sweep: " + outcome->error);
    return;
  }
  ct_last_sweep_removed_ = outcome->removed;
  ct_swept_total_ += outcome->removed;
  SweepNat();
  if (outcome->removed > 0) {
    log::Debug("conntrack swept", {{"removed", std::to_string(outcome->removed)}});
  }
  ct_under_pressure_ = UnderPressure(outcome->remaining, config_.ct_max_entries);
  if (ct_under_pressure_) {
    RecordError("conntrack map " + std::to_string(outcome->remaining) + "/" +
                std::to_string(config_.ct_max_entries) +
                " full: raise --ct-max-entries or lower the timeouts");
  }
}

}  // namespace kubedp::agent
