// Sliding-window perplexity; the windowing rules are documented in evaluate.h.
#include <algorithm>
#include <cmath>
#include <numbers>

#include "eval/scoring.h"
#include "paramdelta/error.h"
#include "paramdelta/evaluate.h"

namespace paramdelta {

PerplexityResult perplexity_of_ids(const Model& model, std::span<const std::int32_t> ids,
                                   const PerplexityOptions& options, const StepProgress& progress) {
  const ModelConfig& config = model.config();
  if (ids.size() < 2) {
    throw Error(ErrorKind::kUsage, "perplexity needs at least two tokens, got " + std::to_string(ids.size()));
  }
  if (options.context < 2) throw Error(ErrorKind::kUsage, "the context must be at least 2 tokens");
  const std::size_t window = static_cast<std::size_t>(
      std::min<std::uint64_t>(options.context, static_cast<std::uint64_t>(config.max_position_embeddings)));
  if (window < 2) throw Error(ErrorKind::kUsage, "max_position_embeddings is below 2: nothing can be scored");
  const std::size_t stride = options.stride == 0 ? std::max<std::size_t>(1, window / 2) : options.stride;
  if (stride > window) {
    throw Error(
        ErrorKind::kUsage,
        "stride " + std::to_string(stride) + " exceeds the window of " + std::to_string(window) + " tokens",
        {}, "tokens between windows would never be scored");
  }

  PerplexityResult result;
  result.tokens_total = ids.size();
  result.window = window;
  result.stride = stride;
  KvCache cache = model.new_cache(std::min(window, ids.size()));
  std::size_t next_target = 1;  // the first token is never scored: nothing precedes it
  // Windows start every `stride` tokens until one reaches the last token.
  const std::size_t total_windows =
      ids.size() <= window ? 1 : 1 + (ids.size() - window + stride - 1) / stride;
  for (std::size_t begin = 0;; begin += stride) {
    const std::size_t end = std::min(begin + window, ids.size());
    const std::size_t first_target = std::max(begin + 1, next_target);
    ++result.windows;
    if (first_target < end) {
      // Tokens [begin, end-1) predict targets [begin+1, end); keep the rows for [first_target, end).
      cache.clear();
      const std::size_t rows = end - first_target;
      std::vector<float> hidden = model.forward_hidden(cache, ids.subspan(begin, end - 1 - begin), rows);
      result.total_nll += eval::negative_log_likelihood(model, hidden, ids.subspan(first_target, rows));
      result.tokens_scored += rows;
      next_target = end;
    }
    if (progress) progress(result.windows, total_windows);
    if (end == ids.size()) break;
  }
  result.mean_nll = result.total_nll / static_cast<double>(result.tokens_scored);
  result.perplexity = std::exp(result.mean_nll);
  return result;
}

PerplexityResult perplexity_of_text(const Model& model, const Tokenizer& tokenizer, std::string_view text,
                                    const PerplexityOptions& options, std::size_t token_limit,
                                    const StepProgress& progress) {
  std::vector<std::int32_t> ids = tokenizer.encode(text, /*add_special_tokens=*/true);
  std::uint64_t bytes = text.size();
  if (token_limit > 0 && ids.size() > token_limit) {
    ids.resize(token_limit);
    bytes = tokenizer.decode(ids, /*skip_special_tokens=*/true).size();
  }
  PerplexityResult result = perplexity_of_ids(model, ids, options, progress);
  result.bytes = bytes;
  if (bytes > 0) result.bits_per_byte = result.total_nll / std::numbers::ln2 / static_cast<double>(bytes);
  return result;
}

}  // namespace paramdelta
