#include "progress_bar.h"

#include <unistd.h>

#include <cstdio>

namespace paramdelta::cli {

bool ProgressBar::stderr_is_terminal() { return isatty(STDERR_FILENO) == 1; }

void ProgressBar::begin(const std::string& operation, std::uint64_t total_bytes) {
  operation_ = operation;
  total_ = total_bytes;
  done_ = 0;
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

void ProgressBar::advance(std::uint64_t bytes) {
  done_ += bytes;
  auto now = std::chrono::steady_clock::now();
  std::unique_lock lock(draw_mutex_, std::try_to_lock);
  if (!lock.owns_lock() || now - last_draw_ < std::chrono::milliseconds(200)) return;
  last_draw_ = now;
  draw(false);
}

void ProgressBar::end() {
  std::lock_guard lock(draw_mutex_);
  draw(true);
  std::fputc('\n', stderr);
}

void ProgressBar::draw(bool final) {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const std::uint64_t done = final ? total_ : done_.load();
  const double fraction = total_ ? static_cast<double>(done) / total_ : 1.0;
  const double rate = elapsed > 0 ? done / elapsed : 0;
  const int width = 30;
  const int filled = static_cast<int>(fraction * width);
  std::string bar(static_cast<std::size_t>(filled), '#');
  bar.resize(width, '-');
  char eta[32] = "";
  if (!final && rate > 0 && done < total_)
    std::snprintf(eta, sizeof eta, " ETA %.0fs", (total_ - done) / rate);
  std::fprintf(stderr, "\r%-8s [%s] %5.1f%%  %.2f/%.2f GB  %.2f GB/s%s   ", operation_.c_str(), bar.c_str(),
               100 * fraction, done / 1e9, total_ / 1e9, rate / 1e9, eta);
  std::fflush(stderr);
}

}  // namespace paramdelta::cli
