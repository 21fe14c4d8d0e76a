#include "call_log/commit_stats.h"

#include "common/wal_append_vfs.h"

namespace vytal {

void CommitStats::render(std::string& out) const {
  commit_seconds.render(out, "vytal_db_commit_seconds", "Time to commit one call log transaction (fsync included).");
  commit_sync_seconds().render(out, "vytal_db_commit_sync_seconds",
                               "Time the disk took to make one commit durable (the sync of the write-ahead log).");
  metric_line(out, "# HELP vytal_db_transactions_total Call log transactions committed.\n");
  metric_line(out, "# TYPE vytal_db_transactions_total counter\nvytal_db_transactions_total %llu\n",
              static_cast<unsigned long long>(transactions.load()));
  metric_line(out, "# HELP vytal_db_writes_total Writes committed (several per transaction with group commit).\n");
  metric_line(out, "# TYPE vytal_db_writes_total counter\nvytal_db_writes_total %llu\n",
              static_cast<unsigned long long>(writes.load()));
  metric_line(out, "# HELP vytal_db_commit_failures_total Transactions that failed to commit.\n");
  metric_line(out, "# TYPE vytal_db_commit_failures_total counter\nvytal_db_commit_failures_total %llu\n",
              static_cast<unsigned long long>(failures.load()));
}

}  // namespace vytal
