#include "call_log/call_log.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <future>
#include <memory>

#include "common/clock.h"

namespace vytal {
namespace {

// The watchdog's view of the commit thread: a write that never finishes (a
// hung disk) is noticed once it has waited long enough; finishing clears it.
TEST(CallLogWatchdogTest, MakingProgressTurnsFalseWhileAWriteHangs) {
  evthread_use_pthreads();
  EventBasePtr base(event_base_new());
  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("vytal-cq-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  ManualClock clock(1'800'000'000'000);
  CommitStats stats;
  CallLogOptions options;
  options.db_path = (dir / "calls.db").string();
  auto queue = CallLog::open(base.get(), options, clock, stats, [](const char*) {});
  ASSERT_TRUE(queue) << queue.error().message;

  EXPECT_TRUE(queue.value()->making_progress(60000));  // nothing waiting
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  bool finished = false;
  // What open() queued (the first heartbeat) is committed first.
  for (int i = 0; i < 200 && !queue.value()->making_progress(0); ++i) {
    timeval tick{0, 10000};
    event_base_loopexit(base.get(), &tick);
    event_base_dispatch(base.get());
  }
  ASSERT_TRUE(queue.value()->submit(
      [released](CallWriter&) {
        released.wait();  // the "fsync" that does not return
        return true;
      },
      [&](bool committed) { finished = committed; }, CallLog::WhenFull::refuse));
  clock.advance_ms(59000);
  EXPECT_TRUE(queue.value()->making_progress(60000));
  clock.advance_ms(2000);
  EXPECT_FALSE(queue.value()->making_progress(60000));

  release.set_value();
  for (int i = 0; i < 200 && !finished; ++i) {
    timeval tick{0, 10000};
    event_base_loopexit(base.get(), &tick);
    event_base_dispatch(base.get());
  }
  EXPECT_TRUE(finished);
  EXPECT_TRUE(queue.value()->making_progress(60000));
  queue.value().reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace vytal
