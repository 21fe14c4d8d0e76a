// What the commit thread reports about its transactions; written by the
// commit thread, read by /metrics on the event loop (atomics).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "common/prometheus.h"

namespace vytal {

struct CommitStats {
  Histogram commit_seconds;
  std::atomic<uint64_t> transactions{0};
  std::atomic<uint64_t> writes{0};
  std::atomic<uint64_t> failures{0};
  // Refusals not audited: over a subject's denied_audits_per_minute
  // (vytal_rejected_total{reason="audit_suppressed"}).
  std::atomic<uint64_t> audits_suppressed{0};

  // Appends vytal_db_commit_seconds, vytal_db_commit_sync_seconds (the
  // process-wide histogram of wal_append_vfs), vytal_db_transactions_total,
  // vytal_db_writes_total and vytal_db_commit_failures_total.
  void render(std::string& out) const;
};

}  // namespace vytal
