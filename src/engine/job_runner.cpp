#include "engine/job_runner.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>

#include "paramdelta/error.h"

namespace paramdelta::engine {

namespace {

class Scheduler {
 public:
  Scheduler(std::vector<Job>& jobs, ProgressSink* progress, std::uint64_t chunk_elements, int workers,
            const std::atomic<bool>* cancel)
      : jobs_(jobs),
        progress_(progress),
        cancel_(cancel),
        chunk_(chunk_elements),
        max_ahead_(max_chunks_ahead(workers)),
        remaining_(jobs.size(), 0),
        done_(jobs.size(), 0) {}

  void work(int worker) {
    for (;;) {
      std::size_t job = 0, chunk = 0;
      std::uint64_t begin = 0, end = 0, sequence = 0;
      {
        std::unique_lock lock(mutex_);
        // Bounded look-ahead: when a worker stalls (the machine is busy), the
        // others wait instead of running ahead, since nothing after the
        // stalled chunk can be released until it finishes.
        window_.wait(lock, [&] { return failed_ || handed_.size() < max_ahead_; });
        if (!take(job, chunk, begin, end, lock)) return;
        sequence = first_sequence_ + handed_.size();
        handed_.push_back(Range{job, begin, end, false});
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
      handed_[sequence - first_sequence_].done = true;
      release_ready(lock);
      finalize_ready(lock);
    }
  }

 private:
  // After a failure no more chunks are handed out and no more jobs are
  // finalized: the error reaches the caller without the rest of the run
  // (possibly hundreds of gigabytes) being processed first.
  void stop() {
    std::lock_guard lock(mutex_);
    fail();
  }

  // With the lock held.
  void fail() {
    failed_ = true;
    window_.notify_all();
  }

  // Picks the next chunk; empty jobs are prepared and marked done on the way.
  bool take(std::size_t& job, std::size_t& chunk, std::uint64_t& begin, std::uint64_t& end,
            std::unique_lock<std::mutex>& lock) {
    while (!failed_ && next_job_ < jobs_.size()) {
      if (cancel_ != nullptr && cancel_->load(std::memory_order_relaxed)) {
        fail();  // the lock is held here
        throw Error(ErrorKind::kCancelled, "cancelled", ErrorContext{}, "nothing was written");
      }
      Job& j = jobs_[next_job_];
      if (next_element_ == 0) {
        const std::size_t chunks = static_cast<std::size_t>((j.elements + chunk_ - 1) / chunk_);
        if (j.prepare) {
          try {
            j.prepare(chunks);
          } catch (...) {
            fail();  // the lock is held here
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

  // Moves the finished prefix of the handed-out chunks into release calls.
  // The release lock is taken before the scheduler lock is dropped, so that
  // the calls run in hand-out order without holding up the other workers.
  void release_ready(std::unique_lock<std::mutex>& lock) {
    std::vector<Range> ready;
    if (!handed_.empty() && handed_.front().done) window_.notify_all();
    while (!handed_.empty() && handed_.front().done) {
      const Range r = handed_.front();
      handed_.pop_front();
      ++first_sequence_;
      if (!jobs_[r.job].release) continue;
      if (pending_ && pending_->job == r.job && pending_->end == r.begin) {
        pending_->end = r.end;
      } else {
        if (pending_) ready.push_back(*pending_);
        pending_ = r;
      }
      if (pending_->end == jobs_[r.job].elements || pending_->end - pending_->begin >= kReleaseElements) {
        ready.push_back(*pending_);
        pending_.reset();
      }
    }
    if (ready.empty()) return;
    std::unique_lock release_lock(release_mutex_);
    lock.unlock();
    for (const Range& r : ready) jobs_[r.job].release(r.begin, r.end);
    release_lock.unlock();
    lock.lock();
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
        fail();
        throw;
      }
      lock.lock();
    }
    finalizing_ = false;
  }

  struct Range {
    std::size_t job = 0;
    std::uint64_t begin = 0, end = 0;
    bool done = false;  // the chunk finished
  };

  std::vector<Job>& jobs_;
  ProgressSink* progress_;
  const std::atomic<bool>* cancel_;
  std::uint64_t chunk_;
  std::size_t max_ahead_;  // chunks handed out beyond the oldest unfinished one
  std::mutex mutex_;
  std::condition_variable window_;  // signalled when handed_ shrinks or the run fails
  std::size_t next_job_ = 0;
  std::uint64_t next_element_ = 0;
  std::vector<std::size_t> remaining_;
  std::vector<char> done_;
  std::size_t finalized_ = 0;
  bool finalizing_ = false;
  bool failed_ = false;
  std::deque<Range> handed_;          // chunks handed out and not yet released, in order
  std::uint64_t first_sequence_ = 0;  // hand-out number of handed_.front()
  std::optional<Range> pending_;      // finished elements of one job, not yet passed to release
  std::mutex release_mutex_;
};

}  // namespace

void run_jobs(ThreadPool& pool, std::vector<Job>& jobs, ProgressSink* progress, std::uint64_t chunk_elements,
              const std::atomic<bool>* cancel) {
  Scheduler scheduler(jobs, progress, chunk_elements, pool.size(), cancel);
  // One long-running task per thread; the pool propagates the first exception.
  pool.parallel_for(static_cast<std::size_t>(pool.size()),
                    [&](std::size_t, int worker) { scheduler.work(worker); });
}

}  // namespace paramdelta::engine
