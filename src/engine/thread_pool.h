// A fixed set of worker threads that run parallel loops over chunk indices.
// Scheduling is dynamic (an atomic counter), so uneven chunks balance out.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace paramdelta::engine {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);  // 0 = one per hardware thread
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }
  // Runs fn(index, worker) for index in [0, count); the calling thread works too
  // (as worker 0). The first exception thrown stops the loop and is rethrown here.
  void parallel_for(std::size_t count, const std::function<void(std::size_t, int)>& fn);

 private:
  void worker_main(int worker);
  void run_loop(int worker);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const std::function<void(std::size_t, int)>* job_ = nullptr;
  std::size_t count_ = 0;
  std::size_t next_ = 0;
  int active_ = 0;
  std::uint64_t generation_ = 0;
  bool stopping_ = false;
  std::exception_ptr error_;
};

int resolve_thread_count(int requested);

}  // namespace paramdelta::engine
