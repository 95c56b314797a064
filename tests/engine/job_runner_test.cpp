// The chunked job runner: every chunk runs once, finalize steps run once each
// and in job order, exceptions reach the caller, progress adds up.
#include "engine/job_runner.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "paramdelta/error.h"

namespace paramdelta::engine {
namespace {

struct CountingProgress : ProgressSink {
  std::atomic<std::uint64_t> bytes{0};
  void begin(const std::string&, std::uint64_t) override {}
  void advance(std::uint64_t n) override { bytes += n; }
  void end() override {}
};

TEST(JobRunner, CoversEveryElementOnceAndFinalizesInJobOrder) {
  ThreadPool pool(4);
  const std::vector<std::uint64_t> sizes = {10, 0, 1, 33, 7, 0, 64, 5};
  std::vector<std::vector<std::atomic<int>>> seen;
  for (auto n : sizes) seen.emplace_back(n);
  std::vector<std::size_t> prepared_chunks(sizes.size(), 999);
  std::mutex m;
  std::vector<std::size_t> order;
  std::vector<Job> jobs;
  for (std::size_t k = 0; k < sizes.size(); ++k) {
    Job j;
    j.elements = sizes[k];
    j.bytes_per_element = 3;
    j.prepare = [&, k](std::size_t chunks) { prepared_chunks[k] = chunks; };
    j.run_chunk = [&, k](std::size_t chunk, std::uint64_t begin, std::uint64_t end, int) {
      EXPECT_EQ(chunk, begin / 4);
      EXPECT_LE(end - begin, 4u);
      // Finalize must not have run for a job that still has chunks running.
      std::lock_guard lock(m);
      EXPECT_TRUE(std::find(order.begin(), order.end(), k) == order.end());
      for (auto i = begin; i < end; ++i) seen[k][i]++;
    };
    j.finalize = [&, k] {
      std::lock_guard lock(m);
      order.push_back(k);
      for (auto& s : seen[k]) EXPECT_EQ(s.load(), 1) << "job " << k << " finalized before all its chunks ran";
    };
    jobs.push_back(std::move(j));
  }
  CountingProgress progress;
  run_jobs(pool, jobs, &progress, 4);
  std::vector<std::size_t> expected(sizes.size());
  for (std::size_t k = 0; k < sizes.size(); ++k) expected[k] = k;
  EXPECT_EQ(order, expected);
  for (std::size_t k = 0; k < sizes.size(); ++k) {
    EXPECT_EQ(prepared_chunks[k], (sizes[k] + 3) / 4) << k;
    for (auto& s : seen[k]) EXPECT_EQ(s.load(), 1);
  }
  std::uint64_t total = 0;
  for (auto n : sizes) total += 3 * n;
  EXPECT_EQ(progress.bytes.load(), total);
}

TEST(JobRunner, FinalizeOrderHoldsWhenEarlyJobsAreSlow) {
  ThreadPool pool(4);
  std::vector<int> order;
  std::mutex m;
  std::vector<Job> jobs;
  for (int k = 0; k < 6; ++k) {
    Job j;
    j.elements = 2;
    j.run_chunk = [k](std::size_t, std::uint64_t, std::uint64_t, int) {
      if (k == 0) std::this_thread::sleep_for(std::chrono::milliseconds(30));  // let later jobs finish first
    };
    j.finalize = [&, k] {
      std::lock_guard lock(m);
      order.push_back(k);
    };
    jobs.push_back(std::move(j));
  }
  run_jobs(pool, jobs, nullptr, 1);
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5}));
}

// Release calls are what keeps a streaming run's resident set flat: each
// job's elements arrive exactly once, in ascending contiguous ranges of
// finished chunks, coalesced, and never two calls at the same time.
TEST(JobRunner, ReleaseGetsEveryFinishedElementOnceInAscendingCoalescedRanges) {
  ThreadPool pool(4);
  constexpr std::uint64_t kChunk = 4096;
  const std::vector<std::uint64_t> sizes = {kReleaseElements * 3 + 5, 1, 0, kChunk * 3,
                                            kReleaseElements + kChunk};
  struct Seen {
    std::vector<std::atomic<int>> ran;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> released;
  };
  std::vector<Seen> seen(sizes.size());
  for (std::size_t k = 0; k < sizes.size(); ++k) seen[k].ran = std::vector<std::atomic<int>>(sizes[k]);
  std::atomic<int> releasing{0};
  std::vector<Job> jobs;
  for (std::size_t k = 0; k < sizes.size(); ++k) {
    Job j;
    j.elements = sizes[k];
    j.run_chunk = [&, k](std::size_t, std::uint64_t begin, std::uint64_t end, int) {
      if ((begin / kChunk) % 7 == 3)
        std::this_thread::sleep_for(std::chrono::milliseconds(2));  // finish out of order
      for (auto i = begin; i < end; ++i) seen[k].ran[i]++;
    };
    j.release = [&, k](std::uint64_t begin, std::uint64_t end) {
      EXPECT_EQ(releasing.fetch_add(1), 0) << "release calls overlap";
      for (auto i = begin; i < end; ++i)
        ASSERT_EQ(seen[k].ran[i].load(), 1) << "job " << k << " element " << i;
      seen[k].released.emplace_back(begin, end);
      releasing.fetch_sub(1);
    };
    jobs.push_back(std::move(j));
  }
  run_jobs(pool, jobs, nullptr, kChunk);
  for (std::size_t k = 0; k < sizes.size(); ++k) {
    std::uint64_t next = 0;
    for (const auto& [begin, end] : seen[k].released) {
      EXPECT_EQ(begin, next) << "job " << k;
      EXPECT_GT(end, begin);
      if (end != sizes[k]) {
        EXPECT_GE(end - begin, kReleaseElements) << "job " << k << " not coalesced";
      }
      next = end;
    }
    EXPECT_EQ(next, sizes[k]) << "job " << k;
  }
}

// A stalled chunk holds back every release after it, so the other workers
// may run only a bounded distance ahead of it, or the resident set would grow
// with the length of the stall.
TEST(JobRunner, WorkersWaitWhenTooFarAheadOfAStalledChunk) {
  ThreadPool pool(4);
  std::atomic<std::size_t> highest_started{0};
  std::size_t highest_during_stall = 0;
  std::vector<Job> jobs(1);
  jobs[0].elements = 1000;
  jobs[0].run_chunk = [&](std::size_t chunk, std::uint64_t, std::uint64_t, int) {
    std::size_t seen = highest_started.load();
    while (chunk > seen && !highest_started.compare_exchange_weak(seen, chunk)) {
    }
    if (chunk == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      highest_during_stall = highest_started.load();
    }
  };
  run_jobs(pool, jobs, nullptr, 1);
  EXPECT_GE(highest_during_stall, 3u) << "the other workers did not run ahead at all";
  EXPECT_LT(highest_during_stall, max_chunks_ahead(pool.size()))
      << "workers ran too far ahead of a stalled chunk";
  EXPECT_EQ(highest_started.load(), 999u);
}

TEST(JobRunner, AChunkExceptionReachesTheCaller) {
  ThreadPool pool(3);
  std::vector<Job> jobs(3);
  for (auto& j : jobs) {
    j.elements = 100;
    j.run_chunk = [](std::size_t chunk, std::uint64_t, std::uint64_t, int) {
      if (chunk == 5) throw std::runtime_error("chunk 5");
    };
  }
  EXPECT_THROW(run_jobs(pool, jobs, nullptr, 10), std::runtime_error);
}

TEST(JobRunner, AChunkExceptionStopsTheRemainingWork) {
  // A failure early in a long run (a NaN in the first tensor of a large model)
  // must be reported without processing everything else first.
  ThreadPool pool(3);
  std::atomic<int> chunks_run{0};
  std::vector<Job> jobs(200);
  for (std::size_t k = 0; k < jobs.size(); ++k) {
    jobs[k].elements = 10;
    jobs[k].run_chunk = [&, k](std::size_t, std::uint64_t, std::uint64_t, int) {
      ++chunks_run;
      if (k == 0) throw std::runtime_error("bad input in the first tensor");
    };
  }
  EXPECT_THROW(run_jobs(pool, jobs, nullptr, 1), std::runtime_error);
  EXPECT_LT(chunks_run.load(), 1000) << "work went on after the failure";
}

TEST(JobRunner, AFinalizeExceptionReachesTheCallerAndLaterJobsAreNotFinalized) {
  ThreadPool pool(2);
  std::atomic<int> finalized_after{0};
  std::vector<Job> jobs(4);
  for (int k = 0; k < 4; ++k) {
    jobs[k].elements = 8;
    jobs[k].run_chunk = [](std::size_t, std::uint64_t, std::uint64_t, int) {};
    jobs[k].finalize = [&, k] {
      if (k == 1) throw std::runtime_error("finalize 1");
      if (k > 1) ++finalized_after;
    };
  }
  EXPECT_THROW(run_jobs(pool, jobs, nullptr, 4), std::runtime_error);
  EXPECT_EQ(finalized_after.load(), 0);
}

TEST(JobRunner, ACancelledRunStopsHandingOutChunksAndThrowsCancelled) {
  ThreadPool pool(3);
  std::atomic<bool> cancel{false};
  std::atomic<int> chunks_run{0};
  std::atomic<int> finalized{0};
  std::vector<Job> jobs;
  for (int k = 0; k < 4; ++k) {
    Job j;
    j.elements = 1000;
    j.run_chunk = [&](std::size_t, std::uint64_t, std::uint64_t, int) {
      if (++chunks_run == 5) cancel = true;
    };
    j.finalize = [&] { ++finalized; };
    jobs.push_back(std::move(j));
  }
  try {
    run_jobs(pool, jobs, nullptr, 10, &cancel);
    FAIL() << "a cancelled run returned normally";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kCancelled);
  }
  // Chunks already handed out may finish; nothing near the 400 chunks runs.
  EXPECT_LT(chunks_run.load(), 5 + static_cast<int>(max_chunks_ahead(pool.size())));
  EXPECT_EQ(finalized.load(), 0);
}

TEST(JobRunner, SingleThreadedPoolGivesTheSameCoverage) {
  ThreadPool pool(1);
  std::vector<int> seen(50, 0);
  std::vector<Job> jobs(1);
  jobs[0].elements = 50;
  jobs[0].run_chunk = [&](std::size_t, std::uint64_t b, std::uint64_t e, int w) {
    EXPECT_EQ(w, 0);
    for (auto i = b; i < e; ++i) seen[i]++;
  };
  run_jobs(pool, jobs, nullptr, 7);
  for (int s : seen) EXPECT_EQ(s, 1);
}

}  // namespace
}  // namespace paramdelta::engine
