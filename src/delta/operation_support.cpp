#include "delta/operation_support.h"

#include <cstdio>
#include <ctime>

#include "engine/tensor_hash.h"
#include "paramdelta/error.h"
#include "paramdelta/operations.h"

namespace paramdelta {

std::string utc_timestamp() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string tool_identity() { return std::string("paramdelta ") + PARAMDELTA_VERSION; }

std::string shape_string(const std::vector<std::uint64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string human_bytes(std::uint64_t bytes) {
  char buf[32];
  if (bytes >= 1'000'000'000ull)
    std::snprintf(buf, sizeof buf, "%.2f GB", bytes / 1e9);
  else if (bytes >= 1'000'000ull)
    std::snprintf(buf, sizeof buf, "%.1f MB", bytes / 1e6);
  else if (bytes >= 1'000ull)
    std::snprintf(buf, sizeof buf, "%.1f kB", bytes / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  return buf;
}

void throw_non_finite(const std::string& tensor, const engine::NonFinite& nf, std::uint64_t index,
                      const std::string& hint) {
  throw Error(ErrorKind::kNonFinite,
              std::string("element ") + std::to_string(index) + " of the " + nf.which + " is NaN or infinite",
              ErrorContext{{}, tensor, {}}, hint);
}

void throw_delta_overflow(const std::string& tensor, std::uint64_t index, double base, double post,
                          DType delta_dtype, const std::string& hint) {
  throw Error(ErrorKind::kNonFinite,
              "element " + std::to_string(index) + ": post - base = " + format_value(post - base) +
                  " (base " + format_value(base) + ", post " + format_value(post) + ") overflows " +
                  std::string(dtype_name(delta_dtype)) + ", the delta's dtype",
              ErrorContext{{}, tensor, {}}, hint);
}

std::string format_value(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", value);
  return text;
}

void run_operation_jobs(engine::ThreadPool& pool, std::vector<engine::Job>& jobs, const RunOptions& run,
                        const char* label) {
  std::uint64_t total_bytes = 0;
  for (const auto& j : jobs) total_bytes += j.elements * j.bytes_per_element;
  if (run.progress) run.progress->begin(label, total_bytes);
  engine::run_jobs(pool, jobs, run.progress, engine::kHashBlockElements, run.cancel);
  if (run.progress) run.progress->end();
}

DType lossless_delta_dtype(DType post) {
  switch (post) {
    case DType::kF8E4M3:
    case DType::kF8E5M2:
      // Differences of 8-bit floats need more mantissa than 8 bits offer.
      return DType::kBF16;
    default:
      return post;
  }
}

}  // namespace paramdelta
