// ThreadPool: every task runs exactly once, thread ids are in range, exceptions reach the caller.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <stdexcept>
#include <vector>

#include "thread_pool.h"

namespace r1 {
namespace {

TEST(ThreadPool, RunsEveryTaskOnce) {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (size_t n : {0u, 1u, 2u, 7u, 1000u}) {
      std::vector<std::atomic<int>> hits(n);
      std::atomic<bool> bad_thread{false};
      pool.parallel_for(n, [&](size_t task, int thread) {
        hits[task].fetch_add(1);
        if (thread < 0 || thread >= threads) bad_thread = true;
      });
      for (size_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "threads " << threads << " task " << i;
      EXPECT_FALSE(bad_thread);
    }
  }
}

TEST(ThreadPool, ManyLoopsInARow) {
  ThreadPool pool(4);
  std::atomic<long> sum{0};
  for (int round = 0; round < 2000; ++round) {
    pool.parallel_for(5, [&](size_t task, int) { sum += static_cast<long>(task); });
  }
  EXPECT_EQ(sum.load(), 2000L * 10);
}

// Idle threads poll for about 200 µs and then sleep: loops that come after gaps on both sides of that (and
// right at it, where a start can meet a thread on its way to sleep) all run every task.
TEST(ThreadPool, LoopsAfterIdleGapsOfEveryLength) {
  ThreadPool pool(2);
  std::atomic<long> sum{0};
  long want = 0;
  for (int round = 0; round < 120; ++round) {
    const int gap_us = round % 3 == 0 ? 2000 : 150 + (round * 7) % 100;
    std::this_thread::sleep_for(std::chrono::microseconds(gap_us));
    pool.parallel_for(4, [&](size_t task, int) { sum += static_cast<long>(task) + 1; });
    want += 10;
    ASSERT_EQ(sum.load(), want) << "round " << round;
  }
}

TEST(ThreadPool, RangeCoversEveryIndexOnce) {
  ThreadPool pool(3);
  for (size_t n : {1u, 5u, 97u, 10000u}) {
    std::vector<std::atomic<int>> hits(n);
    pool.parallel_range(n, 8, [&](size_t begin, size_t end, int) {
      EXPECT_EQ(begin % 8, 0u);  // whole groups of min_chunk, only the last chunk short
      EXPECT_TRUE((end - begin) % 8 == 0 || end == n);
      for (size_t i = begin; i < end; ++i) hits[i]++;
    });
    for (size_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1);
  }
}

TEST(ThreadPool, ExceptionIsRethrownAndPoolStaysUsable) {
  ThreadPool pool(3);
  std::atomic<int> ran{0};
  EXPECT_THROW(pool.parallel_for(50,
                                 [&](size_t task, int) {
                                   ran++;
                                   if (task == 17) throw std::runtime_error("task 17 failed");
                                 }),
               std::runtime_error);
  EXPECT_EQ(ran.load(), 50);  // the other tasks still ran
  std::atomic<int> after{0};
  pool.parallel_for(10, [&](size_t, int) { after++; });
  EXPECT_EQ(after.load(), 10);
}

}  // namespace
}  // namespace r1
