// Small pieces shared by the operations: clocks, tool identity, messages.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/delta_kernels.h"
#include "engine/job_runner.h"
#include "paramdelta/dtype.h"

namespace paramdelta {

std::string utc_timestamp();
std::string tool_identity();  // "paramdelta 0.1.0"
std::string shape_string(const std::vector<std::uint64_t>& shape);

class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

// Throws the kNonFinite error for element `index` of `tensor`.
[[noreturn]] void throw_non_finite(const std::string& tensor, const engine::NonFinite& nf,
                                   std::uint64_t index, const std::string& hint);

// Throws the kNonFinite error for element `index` of `tensor`, a delta
// element whose dtype cannot hold post - base although both are finite:
// base and post are the element's values, `hint` says what to do instead.
[[noreturn]] void throw_delta_overflow(const std::string& tensor, std::uint64_t index, double base,
                                       double post, DType delta_dtype, const std::string& hint);

// A value for a message: six significant digits.
std::string format_value(double value);

// Runs an operation's per-tensor jobs in chunks of the checksum block size,
// reporting progress under `label` against the bytes all jobs move, and
// stopping when `run.cancel` is set.
void run_operation_jobs(engine::ThreadPool& pool, std::vector<engine::Job>& jobs, const RunOptions& run,
                        const char* label);

// A delta dtype that carries `post` values exactly in most cases (lossless mode).
DType lossless_delta_dtype(DType post);

}  // namespace paramdelta
