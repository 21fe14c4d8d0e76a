#include "admin_ui/refusal_audit.h"

#include "common/log.h"

namespace vytal {

constexpr int64_t kMinuteMs = 60000;

bool RefusalAudit::refused(const std::string& session, const RefusalActor& actor, const std::string& what,
                           int64_t now_ms) {
  std::lock_guard lock(mu_);
  auto [it, fresh] = minutes_.try_emplace(session);
  Minute& m = it->second;
  if (!fresh && now_ms - m.started_ms < kMinuteMs) {
    m.counted.actor = actor;
    m.counted.last = what;
    ++m.counted.count;
    return false;
  }
  close_minute(m);  // the timer has not written it yet
  m = Minute{now_ms, CountedRefusals{actor, 0, ""}};
  return true;
}

void RefusalAudit::not_audited(const std::string& session) {
  std::lock_guard lock(mu_);
  auto it = minutes_.find(session);
  if (it == minutes_.end()) return;
  close_minute(it->second);
  minutes_.erase(it);
}

void RefusalAudit::close_minute(Minute& m) {
  if (m.counted.count > 0) due_.push_back(std::move(m.counted));
}

int RefusalAudit::flush(int64_t now_ms, bool all, const std::function<bool(const CountedRefusals&)>& write) {
  std::vector<CountedRefusals> todo;
  {
    std::lock_guard lock(mu_);
    for (auto it = minutes_.begin(); it != minutes_.end();) {
      if (!all && now_ms - it->second.started_ms < kMinuteMs) {
        ++it;
        continue;
      }
      close_minute(it->second);
      it = minutes_.erase(it);
    }
    todo.swap(due_);
  }
  int written = 0;
  std::vector<CountedRefusals> kept;
  for (CountedRefusals& c : todo) {
    if (write(c))
      ++written;
    else
      kept.push_back(std::move(c));
  }
  if (!kept.empty()) {
    std::lock_guard lock(mu_);
    due_.insert(due_.begin(), std::make_move_iterator(kept.begin()), std::make_move_iterator(kept.end()));
  }
  return written;
}

int audit_counted_refusals(RefusalAudit& refusals, AuditOutbox& outbox, const Clock& clock, bool all) {
  return refusals.flush(clock.monotonic_ms(), all, [&](const CountedRefusals& c) {
    auto added = outbox.add(make_audit_record(
        clock, c.actor.account, c.actor.role, "admin.access", "denied", c.actor.client,
        std::to_string(c.count) + " more refusal(s) in the minute after the one audited; the last: " + c.last));
    if (!added)
      LOG_ERROR("vytal-admin: %d refusal(s) of %s not audited yet: %s", c.count, c.actor.account.c_str(),
                added.error().message.c_str());
    return static_cast<bool>(added);
  });
}

}  // namespace vytal
