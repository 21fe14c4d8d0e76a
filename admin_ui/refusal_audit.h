// Refused requests (a role that may not do what it asked), audited at most
// once a minute per session so that a page left open cannot flood the audit
// log, and none left out: a session's first refusal is audited at once, the
// ones after it in that minute are counted, and the count is written as one
// record when the minute is over (vytal-admin's timer, every 2 s) or when
// vytal-admin stops. Used by the web server's thread and the timer's: one
// mutex guards it.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "admin_ui/audit_outbox.h"
#include "common/clock.h"

namespace vytal {

struct RefusalActor {
  std::string account;
  std::string role;
  std::string client;  // address, as in every admin audit record
};

// Refusals counted in a session's minute, after the one audited at its start.
struct CountedRefusals {
  RefusalActor actor;
  int count = 0;
  std::string last;  // what the last of them asked for
};

class RefusalAudit {
 public:
  // A refusal by `session`: true when it is to be audited now (the first of
  // its minute), false when it is counted for the minute's record.
  bool refused(const std::string& session, const RefusalActor& actor, const std::string& what, int64_t now_ms);
  // The audit record of a refusal could not be kept: the next one is audited
  // at once again.
  void not_audited(const std::string& session);
  // Writes the counts of the sessions whose minute is over (every count with
  // `all`) with `write`, and forgets the sessions; a count `write` cannot keep
  // waits for the next call. Returns the records written.
  int flush(int64_t now_ms, bool all, const std::function<bool(const CountedRefusals&)>& write);

 private:
  struct Minute {
    int64_t started_ms = 0;
    CountedRefusals counted;
  };
  // A minute is over: its count, if any, is due to be written (mu_ held).
  void close_minute(Minute& m);
  std::mutex mu_;
  std::unordered_map<std::string, Minute> minutes_;  // sessions refused within the last minute
  std::vector<CountedRefusals> due_;                 // counts of minutes over, not yet written
};

// Writes the due counts (every count with `all`) into the outbox, each as an
// admin.access record, outcome denied; returns how many. What the outbox
// cannot take now is logged and waits for the next call.
int audit_counted_refusals(RefusalAudit& refusals, AuditOutbox& outbox, const Clock& clock, bool all);

}  // namespace vytal
