#include "engine/job_runner.h"

#include <algorithm>
#include <exception>
#include <mutex>

namespace paramdelta::engine {

namespace {

class Scheduler {
 public:
  Scheduler(std::vector<Job>& jobs, ProgressSink* progress, std::uint64_t chunk_elements)
      : jobs_(jobs), progress_(progress), chunk_(chunk_elements), remaining_(jobs.size(), 0), done_(jobs.size(), 0) {}

  void work(int worker) {
    for (;;) {
      std::size_t job = 0, chunk = 0;
      std::uint64_t begin = 0, end = 0;
      {
        std::unique_lock lock(mutex_);
        if (!take(job, chunk, begin, end, lock)) return;
      }
      try {
        jobs_[job].run_chunk(chunk, begin, end, worker);
      } catch (...) {
        stop();
        throw;
      }
      if (progress_ != nullptr) progress_->advance((end - begin) * jobs_[job].bytes_per_element);
      std::unique_lock lock(mutex_);
      if (--remaining_[job] == 0) done_[job] = 1;
      finalize_ready(lock);
    }
  }

 private:
  // After a failure no more chunks are handed out and no more jobs are
  // finalized: the error reaches the caller without the rest of the run
  // (possibly hundreds of gigabytes) being processed first.
  void stop() {
    std::lock_guard lock(mutex_);
    failed_ = true;
  }

  // Picks the next chunk; empty jobs are prepared and marked done on the way.
  bool take(std::size_t& job, std::size_t& chunk, std::uint64_t& begin, std::uint64_t& end,
            std::unique_lock<std::mutex>& lock) {
    while (!failed_ && next_job_ < jobs_.size()) {
      Job& j = jobs_[next_job_];
      if (next_element_ == 0) {
        const std::size_t chunks = static_cast<std::size_t>((j.elements + chunk_ - 1) / chunk_);
        if (j.prepare) {
          try {
            j.prepare(chunks);
          } catch (...) {
            failed_ = true;  // the lock is held here
            throw;
          }
        }
        remaining_[next_job_] = chunks;
        if (chunks == 0) {
          done_[next_job_] = 1;
          ++next_job_;
          finalize_ready(lock);
          continue;
        }
      }
      job = next_job_;
      begin = next_element_;
      end = std::min(begin + chunk_, j.elements);
      chunk = static_cast<std::size_t>(begin / chunk_);
      next_element_ = end;
      if (end == j.elements) {
        ++next_job_;
        next_element_ = 0;
      }
      return true;
    }
    return false;
  }

  void finalize_ready(std::unique_lock<std::mutex>& lock) {
    if (finalizing_ || failed_) return;  // the thread already finalizing will pick this job up
    finalizing_ = true;
    while (!failed_ && finalized_ < jobs_.size() && done_[finalized_]) {
      const std::size_t index = finalized_++;
      lock.unlock();
      try {
        if (jobs_[index].finalize) jobs_[index].finalize();
      } catch (...) {
        lock.lock();
        finalizing_ = false;
        failed_ = true;
        throw;
      }
      lock.lock();
    }
    finalizing_ = false;
  }

  std::vector<Job>& jobs_;
  ProgressSink* progress_;
  std::uint64_t chunk_;
  std::mutex mutex_;
  std::size_t next_job_ = 0;
  std::uint64_t next_element_ = 0;
  std::vector<std::size_t> remaining_;
  std::vector<char> done_;
  std::size_t finalized_ = 0;
  bool finalizing_ = false;
  bool failed_ = false;
};

}  // namespace

void run_jobs(ThreadPool& pool, std::vector<Job>& jobs, ProgressSink* progress, std::uint64_t chunk_elements) {
  Scheduler scheduler(jobs, progress, chunk_elements);
  // One long-running task per thread; the pool propagates the first exception.
  pool.parallel_for(static_cast<std::size_t>(pool.size()), [&](std::size_t, int worker) { scheduler.work(worker); });
}

}  // namespace paramdelta::engine
