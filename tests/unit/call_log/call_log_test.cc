#include "call_log/call_log.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <optional>

#include "common/clock.h"
#include "common/sqlite.h"

namespace vytal {
namespace {

// A call log on its own loop, in a directory of its own; run_loop turns the
// loop in 10 ms steps (at most 3 s) until `until` holds.
class CallLogLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    evthread_use_pthreads();
    base_.reset(event_base_new());
    dir_ = std::filesystem::temp_directory_path() / ("vytal-calllog-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    options_.db_path = (dir_ / "calls.db").string();
    auto opened = CallLog::open(base_.get(), options_, clock_, stats_, [](const char*) {});
    ASSERT_TRUE(opened) << opened.error().message;
    log_ = std::move(opened.value());
  }
  void TearDown() override {
    log_.reset();
    std::filesystem::remove_all(dir_);
  }
  void run_loop(const std::function<bool()>& until) {
    for (int i = 0; i < 300 && !until(); ++i) {
      timeval tick{0, 10000};
      event_base_loopexit(base_.get(), &tick);
      event_base_dispatch(base_.get());
    }
  }

  EventBasePtr base_;
  std::filesystem::path dir_;
  ManualClock clock_{1'800'000'000'000};
  CommitStats stats_;
  CallLogOptions options_;
  std::unique_ptr<CallLog> log_;
};

// The watchdog's view of the commit thread: a write that never finishes (a
// hung disk) is noticed once it has waited long enough; finishing clears it.
TEST_F(CallLogLoopTest, MakingProgressTurnsFalseWhileAWriteHangs) {
  EXPECT_TRUE(log_->making_progress(60000));  // nothing waiting
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  bool finished = false;
  // What open() queued (the first heartbeat) is committed first.
  run_loop([&] { return log_->making_progress(0); });
  ASSERT_TRUE(log_->submit(
      [released](CallWriter&) {
        released.wait();  // the "fsync" that does not return
        return true;
      },
      [&](bool committed) { finished = committed; }, CallLog::WhenFull::refuse));
  clock_.advance_ms(59000);
  EXPECT_TRUE(log_->making_progress(60000));
  clock_.advance_ms(2000);
  EXPECT_FALSE(log_->making_progress(60000));

  release.set_value();
  run_loop([&] { return finished; });
  EXPECT_TRUE(finished);
  EXPECT_TRUE(log_->making_progress(60000));
}

// Group commit runs a batch without a savepoint for each write; when one write
// fails, the batch runs again with them, so that write alone is rolled back:
// the writes beside it in the same transaction are still recorded and
// acknowledged, and nothing of the failed one is.
TEST_F(CallLogLoopTest, AFailingWriteIsRolledBackAloneAndTheRestOfItsBatchCommits) {
  run_loop([&] { return log_->making_progress(0); });  // open()'s own first write is done

  // A write that holds the commit thread, so the next five queue up and go
  // in together as one batch.
  auto started = std::make_shared<std::promise<void>>();
  std::future<void> running = started->get_future();
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  ASSERT_TRUE(log_->submit(
      [started, released](CallWriter&) {
        started->set_value();
        released.wait();
        return true;
      },
      [](bool) {}, CallLog::WhenFull::refuse));
  running.wait();
  Actor service{"platform-backend", Role::service, "127.0.0.1"};
  std::string patient[5];
  std::optional<bool> committed[5];
  for (int i = 0; i < 5; ++i) {
    patient[i] = "patient-batch-" + std::to_string(i);
    NewCall call{patient[i], "provider-batch", "video", std::nullopt, std::nullopt};
    ASSERT_TRUE(log_->submit(
        [call, i, service](CallWriter& w) {
          bool created = w.create(call, service).ok();
          return created && i != 2;  // the third write fails after its call row is in
        },
        [&committed, i](bool ok) { committed[i] = ok; }, CallLog::WhenFull::refuse));
  }
  uint64_t transactions_before = stats_.transactions.load();
  release.set_value();
  run_loop(
      [&] { return std::all_of(std::begin(committed), std::end(committed), [](auto& c) { return c.has_value(); }); });

  for (int i = 0; i < 5; ++i) EXPECT_EQ(committed[i], std::optional<bool>(i != 2)) << "write " << i;
  EXPECT_EQ(stats_.transactions.load() - transactions_before, 2u);  // the held write's, then the five together
  auto db = sqlite_open(options_.db_path, SqliteOpenOptions{.read_only = true});
  ASSERT_TRUE(db);
  for (int i = 0; i < 5; ++i) {
    Statement count(db.value().get(), "SELECT count(*) FROM calls WHERE patient_id = ?");
    count.bind(1, patient[i]);
    ASSERT_EQ(count.step(), SQLITE_ROW);
    EXPECT_EQ(count.integer(0), i == 2 ? 0 : 1) << "write " << i;
  }
}

// The checkpoint sequence number in a write-ahead log's header (bytes 12-15,
// big-endian): SQLite adds one each time the log starts again from its
// beginning.
uint32_t wal_restarts(const std::filesystem::path& wal) {
  unsigned char h[16] = {};
  std::ifstream(wal, std::ios::binary).read(reinterpret_cast<char*>(h), sizeof h);
  return uint32_t{h[12]} << 24 | uint32_t{h[13]} << 16 | uint32_t{h[14]} << 8 | h[15];
}

// Under a steady stream of commits (each completion submits the next write,
// so the commit thread is never idle) the write-ahead log starts again from
// its beginning once it reaches 8,192 frames (32 MiB), instead of growing for
// as long as the load lasts: the disk the call log takes stays bounded.
TEST_F(CallLogLoopTest, TheWriteAheadLogStaysBoundedUnderSteadyWrites) {
  Actor service{"platform-backend", Role::service, "127.0.0.1"};
  std::filesystem::path wal = options_.db_path + "-wal";
  run_loop([&] { return log_->making_progress(0); });  // open()'s own first write is done
  const uint32_t restarts_before = wal_restarts(wal);
  const uintmax_t frame = 24 + 4096, bound = 16384 * frame;
  uintmax_t largest = 0;
  int submitted = 0, completed = 0, failed = 0;
  bool enough = false;
  std::function<void()> submit_one = [&] {
    NewCall call{"patient-" + std::to_string(submitted++), "provider-wal", "video", std::nullopt, std::nullopt};
    bool taken = log_->submit([call, service](CallWriter& w) { return w.create(call, service).ok(); },
                              [&](bool ok) {
                                ++completed;
                                if (!ok) ++failed;
                                if (completed % 64 == 0) {
                                  std::error_code ec;
                                  largest = std::max(largest, std::filesystem::file_size(wal, ec));
                                  enough = wal_restarts(wal) >= restarts_before + 3 || largest >= bound;
                                }
                                if (!enough && submitted < 400000) submit_one();
                              },
                              CallLog::WhenFull::refuse);
    if (!taken) ++failed;
  };
  for (int i = 0; i < 256; ++i) submit_one();
  for (int i = 0; i < 30 && completed < submitted; ++i) run_loop([&] { return completed == submitted; });
  ASSERT_EQ(completed, submitted);
  EXPECT_EQ(failed, 0);
  EXPECT_GE(wal_restarts(wal), restarts_before + 3);
  EXPECT_GT(largest, 6144 * frame);  // it grew towards the restart length,
  // and not far past it: a few commits when the commit thread's copy meets
  // the checkpointer's (busy), never the 64 MiB at which SQLite trims it.
  EXPECT_LT(largest, bound);
}
}  // namespace
}  // namespace vytal
