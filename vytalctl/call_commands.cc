#include "vytalctl/call_commands.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <vector>

#include "call_log/call_reader.h"
#include "common/crypto.h"
#include "common/sqlite.h"
#include "common/time_format.h"

namespace vytal {
namespace {

constexpr long kDefaultListLimit = 20;

// The call log, read-only; nullptr (and a line on stderr) when it cannot be opened.
SqlitePtr open_call_log(const Config& config) {
  std::string path = read_call_log_path(config);
  SqliteOpenOptions options;
  options.read_only = true;
  auto db = sqlite_open(path, options);
  if (!db) {
    std::fprintf(stderr, "vytalctl: call log: %s\n", db.error().message.c_str());
    return nullptr;
  }
  return std::move(db.value());
}

std::string when(const std::optional<int64_t>& ms) { return ms ? format_timestamp(*ms) : "-"; }

// The call's duration so far: final once ended, running while active.
std::string call_duration(const CallRecord& c, int64_t now_ms) {
  if (c.duration_ms) return format_duration_ms(*c.duration_ms);
  if (c.started_at) return format_duration_ms(now_ms - *c.started_at) + " so far";
  return "-";
}

int64_t median(std::vector<int64_t> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void print_quality(sqlite3* db, const std::string& call_id) {
  Statement q(db,
              "SELECT user_id, rtt_ms, jitter_ms, packet_loss_permille FROM call_quality_samples WHERE call_id = ? "
              "ORDER BY sampled_at");
  q.bind(1, call_id);
  struct Figures {
    std::vector<int64_t> rtt, jitter, loss;
    int samples = 0;
  };
  std::map<std::string, Figures> by_user;
  while (q.step() == SQLITE_ROW) {
    Figures& f = by_user[q.text(0)];
    ++f.samples;
    if (auto v = q.opt_integer(1)) f.rtt.push_back(*v);
    if (auto v = q.opt_integer(2)) f.jitter.push_back(*v);
    if (auto v = q.opt_integer(3)) f.loss.push_back(*v);
  }
  if (by_user.empty()) {
    std::printf("\nquality: no reports recorded\n");
    return;
  }
  std::printf("\nquality (sampled reports from the browsers' getStats):\n");
  std::printf("  %-24s %7s %16s %14s %12s\n", "USER", "SAMPLES", "RTT ms med/max", "LOSS % max", "JITTER ms med");
  for (const auto& [user, f] : by_user) {
    char rtt[32] = "-", loss[16] = "-", jitter[16] = "-";
    if (!f.rtt.empty())
      std::snprintf(rtt, sizeof rtt, "%lld/%lld", static_cast<long long>(median(f.rtt)),
                    static_cast<long long>(*std::max_element(f.rtt.begin(), f.rtt.end())));
    if (!f.loss.empty())
      std::snprintf(loss, sizeof loss, "%.1f", *std::max_element(f.loss.begin(), f.loss.end()) / 10.0);
    if (!f.jitter.empty()) std::snprintf(jitter, sizeof jitter, "%lld", static_cast<long long>(median(f.jitter)));
    std::printf("  %-24s %7d %16s %14s %12s\n", user.c_str(), f.samples, rtt, loss, jitter);
  }
}

void print_turn_usage(sqlite3* db, const std::string& call_id) {
  Statement q(db,
              "SELECT user_id, coalesce(transport, ''), state, coalesce(relay_address, ''), bytes_sent, "
              "bytes_received FROM turn_usage WHERE call_id = ? ORDER BY started_at");
  q.bind(1, call_id);
  bool any = false;
  while (q.step() == SQLITE_ROW) {
    if (!any) {
      std::printf("\nTURN relay allocations:\n  %-24s %-9s %-7s %-22s %14s %14s\n", "USER", "TRANSPORT", "STATE",
                  "RELAY", "BYTES SENT", "BYTES RECEIVED");
      any = true;
    }
    std::printf("  %-24s %-9s %-7s %-22s %14lld %14lld\n", q.text(0).c_str(), q.text(1).c_str(), q.text(2).c_str(),
                q.text(3).c_str(), static_cast<long long>(q.integer(4)), static_cast<long long>(q.integer(5)));
  }
  if (!any) std::printf("\nTURN relay allocations: none (direct media, or no TURN reports)\n");
}

}  // namespace

std::string format_duration_ms(int64_t ms) {
  char buf[48];
  if (ms < 0) ms = 0;
  if (ms < 1000) {
    std::snprintf(buf, sizeof buf, "%lld ms", static_cast<long long>(ms));
  } else if (ms < 60000) {
    std::snprintf(buf, sizeof buf, "%.1f s", ms / 1000.0);
  } else {
    long long s = ms / 1000, h = s / 3600, m = (s % 3600) / 60;
    if (h)
      std::snprintf(buf, sizeof buf, "%lldh%02lldm%02llds", h, m, s % 60);
    else
      std::snprintf(buf, sizeof buf, "%lldm%02llds", m, s % 60);
  }
  return buf;
}

int list_calls(const Config& config, const CommandOptions& o, int64_t now_s) {
  SqlitePtr db = open_call_log(config);
  if (!db) return 1;
  CallReader reader(db.get());
  CallFilter filter;
  filter.limit = static_cast<int>(o.limit > 0 ? o.limit : kDefaultListLimit);
  if (o.active) filter.status = CallStatus::active;
  auto calls = reader.list(filter);
  if (!calls) {
    std::fprintf(stderr, "vytalctl: %s\n", calls.error().message.c_str());
    return 1;
  }
  if (calls->empty()) {
    std::printf(o.active ? "no call in progress\n" : "no calls in the call log\n");
    return 0;
  }
  std::printf("%-36s  %-9s  %-5s  %-24s  %-14s  %-12s  %s\n", "ID", "STATUS", "TYPE", "CREATED", "DURATION",
              "END REASON", "PATIENT / PROVIDER");
  for (const CallRecord& c : calls.value()) {
    std::printf("%-36s  %-9s  %-5s  %-24s  %-14s  %-12s  %s / %s\n", c.id.c_str(), call_status_name(c.status),
                c.type.c_str(), format_timestamp(c.created_at).c_str(), call_duration(c, now_s * 1000).c_str(),
                c.end_reason.value_or("-").c_str(), c.patient_id.c_str(), c.provider_id.c_str());
  }
  return 0;
}

int show_call(const Config& config, const CommandOptions& o, int64_t now_s) {
  const std::string& id = o.args.at(0);
  if (!is_uuid(id)) {
    std::fprintf(stderr, "vytalctl: '%s' is not a call id (a UUID)\n", id.c_str());
    return 2;
  }
  SqlitePtr db = open_call_log(config);
  if (!db) return 1;
  CallReader reader(db.get());
  auto got = reader.get(id);
  if (!got) {
    std::fprintf(stderr, "vytalctl: %s\n", got.error().message.c_str());
    return 1;
  }
  if (!got.value()) {
    std::fprintf(stderr, "vytalctl: no call %s in the call log\n", id.c_str());
    return 1;
  }
  const CallRecord& c = *got.value();
  int64_t now_ms = now_s * 1000;
  std::printf("call %s (%s)\n", c.id.c_str(), c.type.c_str());
  std::printf("  status:     %s%s\n", call_status_name(c.status),
              c.end_reason ? (" (" + *c.end_reason + ")").c_str() : "");
  std::printf("  patient:    %s\n  provider:   %s\n", c.patient_id.c_str(), c.provider_id.c_str());
  if (c.appointment_id) std::printf("  appointment: %s\n", c.appointment_id->c_str());
  std::printf("  created:    %s by %s\n", format_timestamp(c.created_at).c_str(), c.created_by.c_str());
  if (c.scheduled_at) std::printf("  scheduled:  %s\n", format_timestamp(*c.scheduled_at).c_str());
  std::printf("  started:    %s\n  ended:      %s\n  duration:   %s\n", when(c.started_at).c_str(),
              when(c.ended_at).c_str(), call_duration(c, now_ms).c_str());

  std::printf("\nparticipants:\n");
  if (c.participants.empty())
    std::printf("  nobody has joined yet\n");
  else
    std::printf("  %-24s %-12s %-12s %-24s %-24s %s\n", "USER", "ROLE", "STATUS", "LAST JOINED", "LEFT",
                "TIME IN CALL");
  for (const ParticipantRecord& p : c.participants) {
    std::printf("  %-24s %-12s %-12s %-24s %-24s %s\n", p.user_id.c_str(), p.role.c_str(), p.status.c_str(),
                when(p.joined_at).c_str(), when(p.left_at).c_str(), format_duration_ms(p.duration_ms).c_str());
  }

  std::printf("\ntimeline:\n");
  Statement events(db.get(),
                   "SELECT occurred_at, type, coalesce(actor_id, ''), coalesce(detail, '') FROM call_events "
                   "WHERE call_id = ? ORDER BY occurred_at, change_seq");
  events.bind(1, c.id);
  while (events.step() == SQLITE_ROW) {
    std::string detail = events.text(3);
    std::printf("  %s  %-26s %s%s%s\n", format_timestamp(events.integer(0)).c_str(), events.text(1).c_str(),
                events.text(2).empty() ? "" : ("by " + events.text(2)).c_str(), detail.empty() ? "" : "  ",
                detail.c_str());
  }
  print_quality(db.get(), c.id);
  print_turn_usage(db.get(), c.id);
  return 0;
}

}  // namespace vytal
