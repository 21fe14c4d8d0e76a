// One write waiting for the commit thread: run inside the open transaction
// on the commit thread, completed on the event loop once the transaction
// ended. CallLog builds these from typed work and completions.
#pragma once

#include <memory>

namespace vytal {

class CallWriter;

class CommitTask {
 public:
  virtual ~CommitTask() = default;
  // Commit thread, inside the transaction. False means the database failed:
  // this write alone is rolled back.
  virtual bool run(CallWriter& writer) = 0;
  // Event loop, after the transaction ended: committed is false when the
  // write is not in the call log. Not called for writes queued at shutdown.
  virtual void complete(bool committed) = 0;
};

using CommitTaskPtr = std::unique_ptr<CommitTask>;

}  // namespace vytal
