#include "net/work_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace rf {
namespace {

using namespace std::chrono_literals;

// A latch the test opens; every wait on it is bounded.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  bool Wait(std::chrono::milliseconds limit) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, limit, [&] { return open; });
  }
  void Open() {
    {
      std::lock_guard<std::mutex> lock(mu);
      open = true;
    }
    cv.notify_all();
  }
};

TEST(WorkPool, ABlockedJobDoesNotHoldUpTheNext) {
  WorkPool pool(4, 16);
  Gate release, second_ran;
  ASSERT_TRUE(pool.Submit([&] { release.Wait(10s); }));
  ASSERT_TRUE(pool.Submit([&] { second_ran.Open(); }));
  EXPECT_TRUE(second_ran.Wait(10s));
  release.Open();
  pool.Stop();
}

TEST(WorkPool, ThreadsAreBoundedAndStartedOnlyWhenBusy) {
  WorkPool pool(3, 64);
  std::atomic<int> done{0};
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(pool.Submit([&] { ++done; }));
  pool.Stop();
  EXPECT_EQ(done.load(), 20);  // Stop runs what was queued
  WorkPool busy(3, 64);
  Gate release;
  std::atomic<int> running{0};
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(busy.Submit([&] {
      ++running;
      release.Wait(10s);
    }));
  }
  EXPECT_LE(busy.threads(), 3u);
  release.Open();
  busy.Stop();
  EXPECT_EQ(running.load(), 10);
  EXPECT_FALSE(busy.Submit([] {}));  // stopped
}

TEST(ConnectorPool, RunsConcurrentlyUpToItsBound) {
  std::atomic<int> setups{0};
  ConnectorPool pool(
      [&] {
        ++setups;
        return 0;
      },
      2);
  Gate release, inside;
  WorkPool callers(4, 8);
  std::atomic<int> concurrent{0}, peak{0}, ran{0};
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(callers.Submit([&] {
      EXPECT_TRUE(pool.Run([&] {
        int now = ++concurrent;
        int seen = peak.load();
        while (now > seen && !peak.compare_exchange_weak(seen, now)) {
        }
        if (now == 2) inside.Open();
        release.Wait(10s);
        --concurrent;
        ++ran;
      }));
    }));
  }
  EXPECT_TRUE(inside.Wait(10s));  // two ran at once
  release.Open();
  callers.Stop();
  EXPECT_EQ(ran.load(), 4);
  EXPECT_EQ(peak.load(), 2);
  EXPECT_EQ(setups.load(), 2);
}

TEST(ConnectorPool, FailedSetupRunsNothing) {
  ConnectorPool pool([] { return EPERM; }, 2);
  bool ran = false;
  EXPECT_FALSE(pool.Run([&] { ran = true; }));
  EXPECT_FALSE(ran);
}

}  // namespace
}  // namespace rf
