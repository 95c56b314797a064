// How long operations report how far they are (e.g. to draw a progress bar)
// and how a caller stops them.
#pragma once

#include <cstdint>
#include <string>

namespace paramdelta {

// Receives progress from long operations. begin() and end() are called on
// the thread that called the operation; advance() from worker threads too,
// so an implementation that hands progress to something single-threaded (a
// terminal, a Python callback) accumulates it and delivers it from its own
// thread.
class ProgressSink {
 public:
  virtual ~ProgressSink() = default;
  virtual void begin(const std::string& operation, std::uint64_t total_bytes) = 0;
  virtual void advance(std::uint64_t bytes) = 0;  // thread-safe
  virtual void end() = 0;
};

}  // namespace paramdelta
