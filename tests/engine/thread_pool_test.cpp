#include "engine/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <stdexcept>
#include <vector>

namespace paramdelta::engine {
namespace {

TEST(ThreadPool, RunsEveryIndexExactlyOnce) {
  ThreadPool pool(4);
  std::vector<std::atomic<int>> hits(1000);
  pool.parallel_for(hits.size(), [&](std::size_t i, int) { hits[i].fetch_add(1); });
  for (auto& h : hits) EXPECT_EQ(h.load(), 1);
}

TEST(ThreadPool, WorkerIdsAreWithinThePoolSize) {
  ThreadPool pool(3);
  EXPECT_EQ(pool.size(), 3);
  std::atomic<int> bad{0};
  pool.parallel_for(500, [&](std::size_t, int worker) { bad += worker < 0 || worker >= 3; });
  EXPECT_EQ(bad.load(), 0);
}

TEST(ThreadPool, PropagatesTheFirstExceptionAndStaysUsable) {
  ThreadPool pool(4);
  EXPECT_THROW(pool.parallel_for(100,
                                 [&](std::size_t i, int) {
                                   if (i == 37) throw std::runtime_error("index 37");
                                 }),
               std::runtime_error);
  std::atomic<std::size_t> sum{0};
  pool.parallel_for(10, [&](std::size_t i, int) { sum += i; });
  EXPECT_EQ(sum.load(), 45u);
}

TEST(ThreadPool, AnExceptionMessageSurvives) {
  ThreadPool pool(2);
  try {
    pool.parallel_for(50, [](std::size_t i, int) {
      if (i % 10 == 9) throw std::runtime_error("failed at " + std::to_string(i));
    });
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("failed at ", 0), 0u);
  }
}

TEST(ThreadPool, ManyConsecutiveLoopsComplete) {
  ThreadPool pool(4);
  std::atomic<std::size_t> total{0};
  for (int round = 0; round < 500; ++round) pool.parallel_for(7, [&](std::size_t, int) { ++total; });
  EXPECT_EQ(total.load(), 3500u);
}

TEST(ThreadPool, ZeroAndOneIndexLoops) {
  ThreadPool pool(4);
  int calls = 0;
  pool.parallel_for(0, [&](std::size_t, int) { ++calls; });
  pool.parallel_for(1, [&](std::size_t, int) { ++calls; });
  EXPECT_EQ(calls, 1);
}

TEST(ThreadCount, ZeroMeansHardwareAndLargeRequestsAreCapped) {
  EXPECT_GE(resolve_thread_count(0), 1);
  EXPECT_EQ(resolve_thread_count(3), 3);
  EXPECT_EQ(resolve_thread_count(100000), 256);
}

}  // namespace
}  // namespace paramdelta::engine
