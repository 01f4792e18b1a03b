// Per-round figures of one benchmark, A (kubedp) and B (baseline) measured
// interleaved, and the row the suite prints: medians (or 99th percentiles),
// their ratio, and the spread (the interquartile range of the kubedp rounds
// over their median).
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kubedp::bench {

inline double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t mid = values.size() / 2;
  return values.size() % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

inline double Quantile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  double position = q * (values.size() - 1);
  size_t low = static_cast<size_t>(std::floor(position));
  size_t high = std::min(low + 1, values.size() - 1);
  return values[low] + (values[high] - values[low]) * (position - low);
}

struct Row {
  std::string name;
  std::string unit;  // of the medians ("ns", "tx/s", "conn/s", "Gbit/s")
  bool higher_is_better = true;
  std::vector<double> kubedp;    // per round
  std::vector<double> baseline;  // per round
  std::string baseline_name;     // "bare", "empty program", ...
  std::string goal;              // the target, in words ("ratio >= 0.95")
  bool met = false;
  bool p99 = false;  // the figures are 99th percentiles (latencies), not medians
  std::string note;  // what else the goal depends on ("0 connections failed")

  double Figure(const std::vector<double>& rounds) const {
    return p99 ? Quantile(rounds, 0.99) : Median(rounds);
  }
  double KubedpFigure() const { return Figure(kubedp); }
  double BaselineFigure() const { return Figure(baseline); }
  double Ratio() const {
    double base = BaselineFigure();
    return base == 0 ? 0 : KubedpFigure() / base;
  }
  double Spread() const {
    double median = Median(kubedp);
    return median == 0 ? 0 : (Quantile(kubedp, 0.75) - Quantile(kubedp, 0.25)) / median;
  }

  nlohmann::json Json() const {
    return nlohmann::json{{"benchmark", name},
                          {"unit", unit},
                          {"statistic", p99 ? "p99" : "median"},
                          {"kubedp", KubedpFigure()},
                          {"baseline", baseline_name},
                          {"baseline_figure", BaselineFigure()},
                          {"ratio", Ratio()},
                          {"spread", Spread()},
                          {"rounds", kubedp.size()},
                          {"kubedp_rounds", kubedp},
                          {"baseline_rounds", baseline},
                          {"goal", goal},
                          {"note", note},
                          {"met", met}};
  }
};

}  // namespace kubedp::bench
