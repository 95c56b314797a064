#include "background_run.h"

#include <nanobind/stl/string.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace nb = nanobind;

namespace paramdelta::python {

namespace {

// Progress as counters the waiting thread reads; written from any thread.
class PolledProgress : public ProgressSink {
 public:
  void begin(const std::string& operation, std::uint64_t total_bytes) override {
    std::lock_guard lock(mutex_);
    // The operation that ends here keeps its last count for the waiting
    // thread, which may not have looked since: every operation's final count
    // is delivered, however short it was.
    if (!operation_.empty()) ended_.push_back({operation_, std::min(done_.load(), total_), total_});
    operation_ = operation;
    total_ = total_bytes;
    done_ = 0;
  }
  void advance(std::uint64_t bytes) override { done_ += bytes; }
  void end() override {}

  struct Snapshot {
    std::string operation;
    std::uint64_t done = 0;
    std::uint64_t total = 0;
    bool operator==(const Snapshot&) const = default;
  };
  Snapshot snapshot() {
    std::lock_guard lock(mutex_);
    return {operation_, std::min(done_.load(), total_), total_};
  }
  // The final counts of the operations that ended since the last call.
  std::vector<Snapshot> take_ended() {
    std::lock_guard lock(mutex_);
    return std::exchange(ended_, {});
  }

 private:
  std::vector<Snapshot> ended_;
  std::mutex mutex_;
  std::string operation_;
  std::uint64_t total_ = 0;
  std::atomic<std::uint64_t> done_{0};
};

// How often the waiting thread wakes when nothing ends: often enough for
// Ctrl-C to feel immediate, rarely enough to cost nothing.
constexpr std::chrono::milliseconds kPollInterval{50};

}  // namespace

void run_in_background(const nb::object& progress, const BackgroundWork& work) {
  std::atomic<bool> cancel{false};
  PolledProgress sink;
  ProgressSink* sink_for_work = progress.is_none() ? nullptr : &sink;
  std::mutex mutex;
  std::condition_variable finished_signal;
  bool finished = false;
  std::exception_ptr failure;

  std::thread worker([&] {
    try {
      work(&cancel, sink_for_work);
    } catch (...) {
      failure = std::current_exception();
    }
    std::lock_guard lock(mutex);
    finished = true;
    finished_signal.notify_all();
  });

  std::optional<nb::python_error> interruption;
  PolledProgress::Snapshot delivered;
  auto deliver = [&] {
    if (sink_for_work == nullptr) return;
    for (const PolledProgress::Snapshot& ended : sink.take_ended()) {
      if (ended == delivered) continue;
      progress(ended.operation, ended.done, ended.total);
      delivered = ended;
    }
    const PolledProgress::Snapshot now = sink.snapshot();
    if (now.operation.empty() || now == delivered) return;
    progress(now.operation, now.done, now.total);
    delivered = now;
  };
  for (;;) {
    bool done = false;
    {
      nb::gil_scoped_release unlocked;
      std::unique_lock lock(mutex);
      done = finished_signal.wait_for(lock, kPollInterval, [&] { return finished; });
    }
    if (done) break;
    if (interruption) continue;  // already stopping: wait for the work to wind down
    try {
      if (PyErr_CheckSignals() != 0) throw nb::python_error();
      deliver();
    } catch (nb::python_error& e) {
      interruption.emplace(std::move(e));
      cancel = true;
    }
  }
  {
    nb::gil_scoped_release unlocked;
    worker.join();
  }
  if (interruption) throw *interruption;
  if (failure) std::rethrow_exception(failure);
  deliver();  // the final count
}

}  // namespace paramdelta::python
