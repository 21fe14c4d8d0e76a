#include "vytalctl/sync_status.h"

#include <cstdio>
#include <sstream>
#include <string>

#include "call_log/schema.h"
#include "call_log/sync_tables.h"
#include "common/sqlite.h"
#include "common/time_format.h"
#include "vytalctl/call_commands.h"
#include "vytalctl/loopback_http.h"

namespace vytal {
namespace {

constexpr int kTimeoutMs = 3000;

// What the call log itself knows of the sync; false when it cannot be read.
bool print_local(const std::string& path, int64_t now_ms, int64_t* parked_out) {
  SqliteOpenOptions options;
  options.read_only = true;
  auto db = sqlite_open(path, options);
  if (!db) {
    std::printf("call log %s: cannot be read: %s\n", path.c_str(), db.error().message.c_str());
    return false;
  }
  sqlite3* h = db.value().get();
  std::printf("call log %s:\n", path.c_str());
  std::printf("  last change:              %lld\n", static_cast<long long>(last_change_seq(h)));
  Statement state(h, "SELECT high_water, updated_at FROM sync_state WHERE id = 1");
  int64_t mark = 0;
  if (state.step() == SQLITE_ROW) {
    mark = state.integer(0);
    std::printf("  confirmed by PostgreSQL:  up to change %lld (recorded %s, %s ago)\n", static_cast<long long>(mark),
                format_timestamp(state.integer(1)).c_str(), format_duration_ms(now_ms - state.integer(1)).c_str());
  } else {
    std::printf("  confirmed by PostgreSQL:  nothing yet\n");
  }
  int64_t waiting = 0;
  for (const SyncTable& t : sync_tables()) {
    Statement count(h, (std::string("SELECT count(*) FROM ") + t.name + " WHERE change_seq > ?").c_str());
    count.bind(1, mark);
    if (count.step() == SQLITE_ROW) waiting += count.integer(0);
  }
  std::printf("  rows not yet confirmed:   %lld\n", static_cast<long long>(waiting));
  Statement parked(h, "SELECT count(*), coalesce(max(parked_at), 0) FROM sync_parked");
  int64_t n = parked.step() == SQLITE_ROW ? parked.integer(0) : 0;
  *parked_out = n;
  if (n)
    std::printf("  parked rows:              %lld (last %s; PostgreSQL refused them: see table sync_parked)\n",
                static_cast<long long>(n), format_timestamp(parked.integer(1)).c_str());
  else
    std::printf("  parked rows:              0\n");
  return true;
}

}  // namespace

int sync_status(const Config& config, const CommandOptions&, int64_t now_s) {
  int64_t now_ms = now_s * 1000;
  std::string host = config.str("VYTAL_BIND_ADDRESS");
  int port = static_cast<int>(config.integer("VYTAL_SYNC_METRICS_PORT", 0, 65535));
  bool attention = false;
  if (port == 0) {
    std::printf("vytal-syncd: VYTAL_SYNC_METRICS_PORT is 0 (a port picked at start): cannot ask it\n");
    attention = true;
  } else {
    auto answer = http_get(host, port, "/metrics", kTimeoutMs);
    std::string url = "http://" + host + ":" + std::to_string(port) + "/metrics";
    if (!answer || answer->status != 200) {
      std::printf("vytal-syncd (%s): not answering: %s\n", url.c_str(),
                  answer ? ("HTTP " + std::to_string(answer->status)).c_str() : answer.error().message.c_str());
      std::printf("  is it running? systemctl status vytal-syncd (it is installed disabled until configured)\n");
      attention = true;
    } else {
      const std::string& page = answer->body;
      auto value = [&](const char* series) { return prometheus_value(page, series).value_or(0); };
      bool connected = value("vytal_sync_connected") == 1;
      attention = attention || !connected;
      std::printf("vytal-syncd (%s): %s\n", url.c_str(),
                  connected ? "connected to PostgreSQL" : "NOT connected to PostgreSQL");
      std::printf("  confirmed up to change:   %.0f\n", value("vytal_sync_high_water"));
      std::printf(
          "  backlog:                  %.0f row(s), oldest waiting %s\n", value("vytal_sync_backlog_rows"),
          format_duration_ms(static_cast<int64_t>(value("vytal_sync_oldest_unsynced_age_seconds") * 1000)).c_str());
      double last = value("vytal_sync_last_success_timestamp_seconds");
      if (last > 0)
        std::printf("  last batch committed:     %s (%s ago)\n",
                    format_timestamp(static_cast<int64_t>(last * 1000)).c_str(),
                    format_duration_ms(now_ms - static_cast<int64_t>(last * 1000)).c_str());
      else
        std::printf("  last batch committed:     none since it started\n");
      std::printf("  rows synced:              %.0f in %.0f batch(es) since it started; parked %.0f\n",
                  value("vytal_sync_rows_total"), value("vytal_sync_batches_total"),
                  value("vytal_sync_parked_rows_total"));
      std::istringstream in(page);
      std::string line, errors;
      const std::string prefix = "vytal_sync_errors_total{kind=\"";
      while (std::getline(in, line)) {
        if (line.compare(0, prefix.size(), prefix) != 0) continue;
        size_t end = line.find('"', prefix.size());
        std::string count = line.substr(line.rfind(' ') + 1);
        if (end != std::string::npos && count != "0")
          errors += " " + line.substr(prefix.size(), end - prefix.size()) + "=" + count;
      }
      std::printf("  errors since it started: %s\n", errors.empty() ? " none" : errors.c_str());
    }
  }
  int64_t parked = 0;
  if (!print_local(read_call_log_path(config), now_ms, &parked)) attention = true;
  if (parked > 0) attention = true;
  return attention ? 1 : 0;
}

}  // namespace vytal
