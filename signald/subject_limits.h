// Limits that count the person, not the connection: the JWT's sub. Token
// buckets per subject on creates and on other writes (joins, ends, cancels,
// invitations), and a cap on the WebSocket sessions one subject holds open.
// Service and admin tokens (the platform's back end, the hospital's admins)
// are not rate limited unless service_writes_per_minute is set, and their
// sessions are not capped: the global caps (write queue, connections) still
// bound them. Event loop only.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "common/clock.h"
#include "common/jwt.h"
#include "signald/signald_config.h"

namespace vytal {

enum class WriteKind { create, other };

class SubjectLimits {
 public:
  SubjectLimits(SubjectLimitSettings settings, const Clock& clock)
      : s_(settings),
        clock_(clock),
        creates_{settings.creates_per_minute, settings.create_burst, {}},
        writes_{settings.writes_per_minute, settings.write_burst, {}},
        service_{settings.service_writes_per_minute, settings.service_writes_per_minute, {}},
        denials_{settings.denied_audits_per_minute, settings.denied_audits_per_minute, {}} {}

  // Takes one token from the subject's bucket for this kind of write. 0 when
  // allowed; otherwise the whole seconds until a token is back (Retry-After).
  int64_t charge(const std::string& sub, Role role, WriteKind kind);
  // A refusal of the subject's (a read of a call it may not see): true when
  // its audit row may be queued, false when the subject is past its
  // denied_audits_per_minute (counted as audit_suppressed, nothing queued):
  // one user's refused reads cannot fill the commit queue everyone shares.
  bool may_audit_refusal(const std::string& sub) { return take(denials_, sub) == 0; }
  // A WebSocket session of the subject opens; false (and nothing counted)
  // when it already holds max_sessions.
  bool open_session(const std::string& sub, Role role);
  // A session opened with open_session() closed.
  void close_session(const std::string& sub, Role role);
  size_t tracked_subjects() const {
    return creates_.by_subject.size() + writes_.by_subject.size() + service_.by_subject.size() +
           denials_.by_subject.size();
  }

 private:
  struct Bucket {
    double tokens = 0;
    int64_t at_ms = 0;  // monotonic
  };
  // One token bucket per subject, all with the same rate and burst.
  struct Buckets {
    double per_minute;
    double burst;
    std::unordered_map<std::string, Bucket> by_subject;
  };
  int64_t take(Buckets& buckets, const std::string& sub);
  static bool privileged(Role role) { return role == Role::service || role == Role::admin; }

  SubjectLimitSettings s_;
  const Clock& clock_;
  Buckets creates_, writes_, service_, denials_;
  std::unordered_map<std::string, int> sessions_;
  int64_t pruned_ms_ = 0;
};

}  // namespace vytal
