// Copies the call log's write-ahead log back into the database from a thread
// of its own, so the commit thread never pays for a checkpoint (SQLite's
// automatic checkpoint would run inside a COMMIT, fsyncs included).
// PASSIVE checkpoints never block the writer or readers.
//
// Under a steady stream of commits the log only starts again from its
// beginning after the commit thread copies what is left itself (call_log.cc);
// that copy stalls every write waiting. So once the log holds catch_up_frames
// and is moving (written to or copied from), checkpoints follow each other
// closely, and what is left is a few milliseconds of commits instead of up to
// one interval's.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "common/sqlite.h"

namespace vytal {

class WalCheckpointer {
 public:
  WalCheckpointer(SqlitePtr db, int interval_ms, int catch_up_frames);
  ~WalCheckpointer();  // a last checkpoint, then the thread stops

 private:
  void run();
  SqlitePtr db_;
  int interval_ms_;
  int catch_up_frames_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace vytal
