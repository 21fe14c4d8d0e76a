// Reads the Prometheus text format (version 0.0.4) that signald and syncd
// serve at /metrics: one sample a line, "name{label="value",...} number".
// Comments and malformed lines are skipped. Pure functions.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vytal {

struct MetricSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

std::vector<MetricSample> parse_prometheus_text(std::string_view text);

class MetricSet {
 public:
  MetricSet() = default;
  explicit MetricSet(std::string_view text) : samples_(parse_prometheus_text(text)) {}
  // The first sample of `name` whose labels include every pair of `labels`.
  std::optional<double> value(std::string_view name, const std::map<std::string, std::string>& labels = {}) const;
  // Every sample of `name`.
  std::vector<const MetricSample*> all(std::string_view name) const;
  bool empty() const { return samples_.empty(); }

 private:
  std::vector<MetricSample> samples_;
};

}  // namespace vytal
