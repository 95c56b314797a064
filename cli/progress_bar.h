// A progress bar on standard error (bytes, throughput, ETA), drawn only when
// standard error is a terminal, redrawn at most a few times a second.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>

#include "paramdelta/operations.h"

namespace paramdelta::cli {

class ProgressBar : public ProgressSink {
 public:
  void begin(const std::string& operation, std::uint64_t total_bytes) override;
  void advance(std::uint64_t bytes) override;
  void end() override;
  static bool stderr_is_terminal();

 private:
  void draw(bool final);
  std::string operation_;
  std::uint64_t total_ = 0;
  std::atomic<std::uint64_t> done_{0};
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  std::mutex draw_mutex_;
};

}  // namespace paramdelta::cli
