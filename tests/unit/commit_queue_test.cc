#include "signald/commit_queue.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <future>
#include <memory>

#include "common/clock.h"
#include "signald/metrics.h"

namespace vytal {
namespace {

// The watchdog's view of the commit thread: a write that never finishes (a
// hung disk) is noticed once it has waited long enough; finishing clears it.
TEST(CommitQueueTest, MakingProgressTurnsFalseWhileAWriteHangs) {
  evthread_use_pthreads();
  std::unique_ptr<event_base, void (*)(event_base*)> base(event_base_new(), event_base_free);
  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("vytal-cq-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  ManualClock clock(1'800'000'000'000);
  Metrics metrics;
  CommitQueueOptions options;
  options.db_path = (dir / "calls.db").string();
  auto queue = CommitQueue::open(base.get(), options, clock, metrics);
  ASSERT_TRUE(queue) << queue.error().message;

  EXPECT_TRUE(queue.value()->making_progress(60000));  // nothing waiting
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  bool finished = false;
  ASSERT_TRUE(queue.value()->submit(
      [released](CallWriter&) {
        released.wait();  // the "fsync" that does not return
        return true;
      },
      [&](bool committed) { finished = committed; }));
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
