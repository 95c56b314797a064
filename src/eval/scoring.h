// Turning hidden states into token log-probabilities, shared by perplexity
// and task scoring. Logits are produced a few rows at a time so that a long
// window over a large vocabulary does not need a [tokens][vocab] matrix.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "paramdelta/model.h"

namespace paramdelta::eval {

// Sum of -log p(targets[r] | row r) for hidden rows [targets.size()][hidden_size], in nats.
double negative_log_likelihood(const Model& model, std::span<const float> hidden,
                               std::span<const std::int32_t> targets);

// The highest logit's index (the lowest index on ties); throws on non-finite logits.
std::int32_t greedy_token(const Model& model, std::span<const float> logits);

// Throws paramdelta::Error (kNonFinite) naming the model if any value is NaN or infinite.
void require_finite_logits(const Model& model, std::span<const float> logits);

// Length of the longest common prefix.
std::size_t common_prefix(std::span<const std::int32_t> a, std::span<const std::int32_t> b);

}  // namespace paramdelta::eval
