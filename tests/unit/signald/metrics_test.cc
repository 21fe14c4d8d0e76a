#include "signald/metrics.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "call_log/call_record.h"
#include "common/build_info.h"
#include "signald/metric_labels.h"

namespace vytal {
namespace {

std::filesystem::path source_dir() {
  if (const char* dir = std::getenv("VYTAL_SOURCE_DIR")) return dir;
  return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path().parent_path();
}

// The value of one exact series in a rendered page; -1 when absent.
double series(const std::string& page, const std::string& name) {
  std::istringstream in(page);
  std::string line;
  while (std::getline(in, line))
    if (line.size() > name.size() && line.compare(0, name.size(), name) == 0 && line[name.size()] == ' ')
      return std::stod(line.substr(name.size() + 1));
  return -1;
}

TEST(MetricsTest, EveryKnownReasonIsExportedAtZeroFromTheStart) {
  Metrics m;
  std::string page = m.render();
  for (const char* r : signald_rejection_reasons())
    EXPECT_EQ(series(page, std::string("vytal_rejected_total{reason=\"") + r + "\"}"), 0) << r;
  for (const char* r : http_server_rejection_reasons())
    EXPECT_EQ(series(page, std::string("vytal_rejected_total{reason=\"") + r + "\"}"), 0) << r;
  for (const char* r : call_failure_reasons())
    EXPECT_EQ(series(page, std::string("vytal_call_failures_total{reason=\"") + r + "\"}"), 0) << r;
  for (const char* t : turn_transports())
    EXPECT_EQ(series(page, std::string("vytal_turn_allocations{transport=\"") + t + "\"}"), 0) << t;
  for (const char* t : ws_message_types())
    EXPECT_EQ(series(page, std::string("vytal_ws_messages_total{type=\"") + t + "\"}"), 0) << t;
  EXPECT_EQ(series(page, "vytal_calls_started_total"), 0);
  EXPECT_EQ(series(page, "vytal_build_info{version=\"" + std::string(build_version()) + "\",commit=\"" +
                             build_commit() + "\"}"),
            1);
  EXPECT_GT(series(page, "process_resident_memory_bytes"), 1 << 20);
  EXPECT_GE(series(page, "process_cpu_seconds_total"), 0);
  EXPECT_GE(series(page, "process_open_fds"), 3);
}

// Every reason the code counts as a literal is in the lists, so it is
// exported at 0 from the start (a reason added without listing it fails here).
TEST(MetricsTest, EveryLiteralRejectionReasonInTheCodeIsListed) {
  std::set<std::string> listed;
  for (const char* r : signald_rejection_reasons()) listed.insert(r);
  for (const char* r : http_server_rejection_reasons()) listed.insert(r);
  std::regex counted(R"re(count_rejected\("([a-z_]+)"\)|"(ws_[a-z_]+|max_connections[a-z_]*|accept_failed)")re");
  int seen = 0;
  for (const char* folder : {"http", "signald", "call_log"}) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(source_dir() / folder)) {
      if (entry.path().extension() != ".cc") continue;
      std::ifstream f(entry.path());
      std::stringstream ss;
      ss << f.rdbuf();
      std::string text = ss.str();
      for (std::sregex_iterator it(text.begin(), text.end(), counted), end; it != end; ++it) {
        std::string reason = (*it)[1].matched ? (*it)[1].str() : (*it)[2].str();
        // "ws_join_" or "ws_end_" + the call log's error code: listed one by one
        if (reason == "ws_join_" || reason == "ws_end_") continue;
        ++seen;
        EXPECT_TRUE(listed.count(reason)) << reason << " (" << entry.path().filename().string()
                                          << ") is not in signald/metric_labels.cc or http_metrics.cc";
      }
    }
  }
  EXPECT_GT(seen, 10);
}

TEST(MetricsTest, CallChangesCountStartsAndReconnectTimeouts) {
  Metrics m;
  CallUpdate started;
  started.call.status = CallStatus::active;
  started.from = CallStatus::scheduled;
  started.event = "joined";
  m.call_changed(started);
  CallUpdate timed_out;
  timed_out.call.status = CallStatus::active;
  timed_out.from = CallStatus::active;
  timed_out.event = "left";
  timed_out.reason = "timeout";
  m.call_changed(timed_out);
  CallUpdate left = timed_out;
  left.reason = "left";
  m.call_changed(left);
  CallUpdate waited_alone = timed_out;  // nobody had answered yet: not a failed call
  waited_alone.call.status = CallStatus::scheduled;
  waited_alone.from = CallStatus::scheduled;
  m.call_changed(waited_alone);
  m.count_call_failure("made_up");  // not a label: ignored
  std::string page = m.render();
  EXPECT_EQ(series(page, "vytal_calls_started_total"), 1);
  EXPECT_EQ(series(page, "vytal_call_failures_total{reason=\"reconnect_timeout\"}"), 1);
  EXPECT_EQ(series(page, "vytal_call_failures_total{reason=\"made_up\"}"), -1);
  EXPECT_EQ(series(page, "vytal_active_calls"), 1);
}

TEST(MetricsTest, QualityReportsFillTheHistograms) {
  Metrics m;
  m.observe_quality(42, 3, 0.01);
  m.observe_quality(450, std::nullopt, 0.2);
  std::string page = m.render();
  EXPECT_EQ(series(page, "vytal_quality_rtt_milliseconds_bucket{le=\"50\"}"), 1);
  EXPECT_EQ(series(page, "vytal_quality_rtt_milliseconds_bucket{le=\"400\"}"), 1);
  EXPECT_EQ(series(page, "vytal_quality_rtt_milliseconds_bucket{le=\"600\"}"), 2);
  EXPECT_EQ(series(page, "vytal_quality_rtt_milliseconds_count"), 2);
  EXPECT_DOUBLE_EQ(series(page, "vytal_quality_rtt_milliseconds_sum"), 492);
  EXPECT_EQ(series(page, "vytal_quality_jitter_milliseconds_count"), 1);
  EXPECT_EQ(series(page, "vytal_quality_packet_loss_ratio_bucket{le=\"0.01\"}"), 1);
  EXPECT_EQ(series(page, "vytal_quality_packet_loss_ratio_bucket{le=\"0.1\"}"), 1);
  EXPECT_EQ(series(page, "vytal_quality_packet_loss_ratio_bucket{le=\"+Inf\"}"), 2);
}

TEST(MetricsTest, TurnAllocationsByTransport) {
  Metrics m;
  m.turn_allocation("udp", +1);
  m.turn_allocation("udp", +1);
  m.turn_allocation("tls", +1);
  m.turn_allocation("udp", -1);
  m.turn_allocation("carrier-pigeon", +1);
  m.turn_relayed(1000, 250);
  std::string page = m.render();
  EXPECT_EQ(series(page, "vytal_turn_allocations{transport=\"udp\"}"), 1);
  EXPECT_EQ(series(page, "vytal_turn_allocations{transport=\"tls\"}"), 1);
  EXPECT_EQ(series(page, "vytal_turn_allocations{transport=\"carrier-pigeon\"}"), -1);
  EXPECT_EQ(series(page, "vytal_turn_allocations_total"), 3);
  EXPECT_EQ(series(page, "vytal_turn_relayed_bytes_total{direction=\"sent\"}"), 1000);
  EXPECT_EQ(series(page, "vytal_turn_relayed_bytes_total{direction=\"received\"}"), 250);
}

}  // namespace
}  // namespace vytal
