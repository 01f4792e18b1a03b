// kdp-bench: the benchmark suite's one binary. Runs each benchmark with its
// baseline interleaved round by round and prints
//   benchmark | kubedp median | baseline median | ratio | spread | rounds
// plus the goal, and writes every round to a JSON file.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "bench/conntrack_scale.h"
#include "bench/prog_cost.h"
#include "bench/service_scale.h"
#include "bench/traffic.h"
#include "common/log.h"

namespace {

using kubedp::bench::Row;

std::string Format(double value) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(value >= 100 ? 0 : 2) << value;
  return out.str();
}

void PrintTable(const std::vector<Row>& rows) {
  std::printf("%-60s | %16s | %15s | %6s | %6s | %6s | %s\n", "benchmark", "kubedp median",
              "baseline median", "ratio", "spread", "rounds", "goal");
  for (const Row& row : rows) {
    std::string figure = Format(row.KubedpFigure()) + " " + row.unit + (row.p99 ? " p99" : "");
    bool baseline = !row.baseline.empty();
    char ratio[16] = "-";
    if (baseline) std::snprintf(ratio, sizeof(ratio), "%.3f", row.Ratio());
    std::printf("%-60s | %16s | %15s | %6s | %5.1f%% | %6zu | %s (%s) %s%s\n", row.name.c_str(),
                figure.c_str(), baseline ? Format(row.BaselineFigure()).c_str() : "-", ratio,
                100 * row.Spread(), row.kubedp.size(), row.goal.c_str(),
                baseline ? row.baseline_name.c_str() : "absolute", row.met ? "met" : "MISSED",
                row.note.empty() ? "" : ("; " + row.note).c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool short_mode = false;
  bool traffic = true;
  bool throughput = true;
  int rounds = 10;
  double seconds = 2.0;
  std::string json_path = "bench-results.json";

  CLI::App app{"kdp-bench: kubedp against the bare kernel path, A B A B ..."};
  app.add_flag("--short", short_mode, "Seconds in all (CI): 3 rounds, short runs");
  app.add_option("--rounds", rounds, "Rounds per benchmark (at least 10 for a report)")
      ->capture_default_str();
  app.add_option("--seconds", seconds, "Seconds per round and side (traffic)")
      ->capture_default_str();
  app.add_flag("!--no-traffic", traffic, "Only the in-kernel program cost");
  app.add_flag("!--no-throughput", throughput, "Skip iperf3");
  bool scale = true;
  app.add_flag("!--no-scale", scale,
               "Skip Services at scale against kube-proxy's iptables and nftables modes");
  app.add_option("--json", json_path, "Where every round goes")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  kubedp::log::Init("bench", "warn");
  if (short_mode) {
    rounds = 3;
    seconds = 0.3;
  }

  std::vector<Row> rows;
  auto cost =
      kubedp::bench::MeasureProgramCost({.rounds = rounds, .packets = short_mode ? 300 : 2000});
  if (!cost.ok()) {
    std::cerr << "program cost: " << cost.status().message() << "\n";
    return 1;
  }
  rows.insert(rows.end(), cost->begin(), cost->end());
  auto conntrack = kubedp::bench::MeasureConntrackScale(
      {.rounds = short_mode ? 1 : 3, .entries = short_mode ? 100'000u : 1'000'000u});
  if (!conntrack.ok()) {
    std::cerr << "conntrack: " << conntrack.status().message() << "\n";
    return 1;
  }
  rows.insert(rows.end(), conntrack->begin(), conntrack->end());
  if (traffic) {
    auto measured = kubedp::bench::MeasureTraffic(
        {.rounds = rounds, .seconds = seconds, .throughput = throughput, .short_mode = short_mode});
    if (!measured.ok()) {
      std::cerr << "traffic: " << measured.status().message() << "\n";
      return 1;
    }
    rows.insert(rows.end(), measured->begin(), measured->end());
  }
  if (traffic && scale) {
    auto measured = kubedp::bench::MeasureServiceScale(
        {.rounds = rounds, .seconds = seconds, .short_mode = short_mode});
    if (!measured.ok()) {
      std::cerr << "service scale: " << measured.status().message() << "\n";
      return 1;
    }
    rows.insert(rows.end(), measured->begin(), measured->end());
  }

  PrintTable(rows);
  nlohmann::json report{{"short", short_mode},
                        {"rounds", rounds},
                        {"seconds", seconds},
                        {"results", nlohmann::json::array()}};
  for (const Row& row : rows) report["results"].push_back(row.Json());
  std::ofstream(json_path) << report.dump(2) << "\n";
  std::printf("rounds written to %s\n", json_path.c_str());
  return 0;
}
