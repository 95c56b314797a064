#include "eval/scoring.h"

#include <algorithm>
#include <cmath>

#include "eval/kernels.h"
#include "paramdelta/error.h"

namespace paramdelta::eval {

namespace {
constexpr std::size_t kLogitRows = 32;
}

void require_finite_logits(const Model& model, std::span<const float> logits) {
  if (std::all_of(logits.begin(), logits.end(), [](float v) { return std::isfinite(v); })) return;
  throw Error(ErrorKind::kNonFinite, "the model produced non-finite logits",
              ErrorContext{model.path().string(), {}, {}},
              "its weights may be broken (overflowing activations)");
}

double negative_log_likelihood(const Model& model, std::span<const float> hidden,
                               std::span<const std::int32_t> targets) {
  const auto hidden_size = static_cast<std::size_t>(model.config().hidden_size);
  const auto vocab = static_cast<std::size_t>(model.config().vocab_size);
  std::vector<float> logits(std::min(kLogitRows, targets.size()) * vocab);
  double total = 0;
  for (std::size_t r0 = 0; r0 < targets.size(); r0 += kLogitRows) {
    const std::size_t rows = std::min(kLogitRows, targets.size() - r0);
    std::span<float> out(logits.data(), rows * vocab);
    model.logits(hidden.subspan(r0 * hidden_size, rows * hidden_size), rows, out);
    require_finite_logits(model, out);
    for (std::size_t r = 0; r < rows; ++r) {
      std::span<const float> row = out.subspan(r * vocab, vocab);
      const std::int32_t target = targets[r0 + r];
      if (target < 0 || static_cast<std::size_t>(target) >= vocab) {
        throw Error(ErrorKind::kInvalidInput,
                    "token id " + std::to_string(target) + " is outside the vocabulary",
                    ErrorContext{model.path().string(), {}, {}});
      }
      total += log_sum_exp(row) - static_cast<double>(row[static_cast<std::size_t>(target)]);
    }
  }
  return total;
}

std::int32_t greedy_token(const Model& model, std::span<const float> logits) {
  require_finite_logits(model, logits);
  return static_cast<std::int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

std::size_t common_prefix(std::span<const std::int32_t> a, std::span<const std::int32_t> b) {
  std::size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
  return n;
}

}  // namespace paramdelta::eval
