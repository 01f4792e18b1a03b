// Per-round figures of one benchmark, A (kubedp) and B (baseline) measured
// interleaved, and the row the suite prints: medians, their ratio, and the
// spread (the interquartile range of the kubedp rounds over their median).
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

  double KubedpMedian() const { return Median(kubedp); }
  double BaselineMedian() const { return Median(baseline); }
  double Ratio() const {
    double base = BaselineMedian();
    return base == 0 ? 0 : KubedpMedian() / base;
  }
  double Spread() const {
    double median = KubedpMedian();
    return median == 0 ? 0 : (Quantile(kubedp, 0.75) - Quantile(kubedp, 0.25)) / median;
  }

  nlohmann::json Json() const {
    return nlohmann::json{{"benchmark", name},
                          {"unit", unit},
                          {"kubedp_median", KubedpMedian()},
                          {"baseline", baseline_name},
                          {"baseline_median", BaselineMedian()},
                          {"ratio", Ratio()},
                          {"spread", Spread()},
                          {"rounds", kubedp.size()},
                          {"kubedp_rounds", kubedp},
                          {"baseline_rounds", baseline},
                          {"goal", goal},
                          {"met", met}};
  }
};

}  // namespace kubedp::bench
