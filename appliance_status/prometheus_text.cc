#include "appliance_status/prometheus_text.h"

#include <cstdlib>

namespace vytal {
namespace {

// Parses `{a="x",b="y"}` starting at text[i] == '{'; advances i past '}'.
bool parse_labels(std::string_view text, size_t& i, std::map<std::string, std::string>& out) {
  ++i;
  while (i < text.size() && text[i] != '}') {
    size_t eq = text.find('=', i);
    if (eq == std::string_view::npos || eq + 1 >= text.size() || text[eq + 1] != '"') return false;
    std::string key(text.substr(i, eq - i));
    std::string value;
    size_t j = eq + 2;
    for (; j < text.size() && text[j] != '"'; ++j) {
      if (text[j] == '\\' && j + 1 < text.size()) {
        ++j;
        value += text[j] == 'n' ? '\n' : text[j];
      } else {
        value += text[j];
      }
    }
    if (j >= text.size()) return false;
    out[key] = value;
    i = j + 1;
    if (i < text.size() && text[i] == ',') ++i;
  }
  if (i >= text.size()) return false;
  ++i;
  return true;
}

}  // namespace

std::vector<MetricSample> parse_prometheus_text(std::string_view text) {
  std::vector<MetricSample> out;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (line.empty() || line[0] == '#') continue;
    MetricSample s;
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    s.name = std::string(line.substr(0, i));
    if (i < line.size() && line[i] == '{' && !parse_labels(line, i, s.labels)) continue;
    while (i < line.size() && line[i] == ' ') ++i;
    std::string number(line.substr(i, line.find(' ', i) - i));
    char* end = nullptr;
    s.value = std::strtod(number.c_str(), &end);
    if (number.empty() || *end) continue;
    out.push_back(std::move(s));
  }
  return out;
}

std::optional<double> MetricSet::value(std::string_view name, const std::map<std::string, std::string>& labels) const {
  for (const MetricSample& s : samples_) {
    if (s.name != name) continue;
    bool match = true;
    for (const auto& [k, v] : labels) {
      auto it = s.labels.find(k);
      if (it == s.labels.end() || it->second != v) match = false;
    }
    if (match) return s.value;
  }
  return std::nullopt;
}

std::vector<const MetricSample*> MetricSet::all(std::string_view name) const {
  std::vector<const MetricSample*> out;
  for (const MetricSample& s : samples_)
    if (s.name == name) out.push_back(&s);
  return out;
}

}  // namespace vytal
