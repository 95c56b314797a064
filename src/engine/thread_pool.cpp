#include "engine/thread_pool.h"

#include <algorithm>

namespace paramdelta::engine {

int resolve_thread_count(int requested) {
  if (requested > 0) return std::min(requested, 256);
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(std::min(hw, 256u));
}

ThreadPool::ThreadPool(int threads) {
  const int n = resolve_thread_count(threads);
  for (int i = 1; i < n; ++i) workers_.emplace_back([this, i] { worker_main(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::run_loop(int worker) {
  for (;;) {
    std::size_t index;
    {
      std::lock_guard lock(mutex_);
      if (error_ || next_ >= count_) return;
      index = next_++;
    }
    try {
      (*job_)(index, worker);
    } catch (...) {
      std::lock_guard lock(mutex_);
      if (!error_) error_ = std::current_exception();
      return;
    }
  }
}

void ThreadPool::worker_main(int worker) {
  std::uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) return;
      seen = generation_;
      ++active_;
    }
    run_loop(worker);
    {
      std::lock_guard lock(mutex_);
      --active_;
    }
    done_.notify_all();
  }
}

void ThreadPool::parallel_for(std::size_t count, const std::function<void(std::size_t, int)>& fn) {
  if (count == 0) return;
  if (workers_.empty() || count == 1) {
    for (std::size_t i = 0; i < count; ++i) fn(i, 0);
    return;
  }
  {
    std::lock_guard lock(mutex_);
    job_ = &fn;
    count_ = count;
    next_ = 0;
    error_ = nullptr;
    ++generation_;
  }
  wake_.notify_all();
  run_loop(0);
  std::exception_ptr error;
  {
    std::unique_lock lock(mutex_);
    // Wait until no index is left and every worker that joined has left.
    done_.wait(lock, [&] { return active_ == 0 && (next_ >= count_ || error_); });
    error = error_;
    job_ = nullptr;
    count_ = 0;
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace paramdelta::engine
