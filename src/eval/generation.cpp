// Greedy decoding with a key/value cache: the prompt goes through the model
// as one batch, then each new token is fed alone.
#include <algorithm>

#include "eval/scoring.h"
#include "paramdelta/error.h"
#include "paramdelta/evaluate.h"

namespace paramdelta {

std::string trim_ascii_whitespace(std::string_view text) {
  auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  };
  std::size_t begin = 0;
  std::size_t end = text.size();
  while (begin < end && space(text[begin])) ++begin;
  while (end > begin && space(text[end - 1])) --end;
  return std::string(text.substr(begin, end - begin));
}

std::vector<std::int32_t> end_of_sequence_ids(const Model& model, const Tokenizer& tokenizer) {
  std::vector<std::int32_t> ids = model.config().eos_token_ids;
  if (auto eos = tokenizer.eos_id(); eos && std::find(ids.begin(), ids.end(), *eos) == ids.end())
    ids.push_back(*eos);
  return ids;
}

namespace {

// The generated text after its leading whitespace, cut before the earliest stop string.
// Returns true when a stop string was found.
bool cut_at_stop_string(std::string& text, const std::vector<std::string>& stop_strings) {
  std::size_t start = 0;
  while (start < text.size() && (text[start] == ' ' || text[start] == '\t' || text[start] == '\n' ||
                                 text[start] == '\r' || text[start] == '\f' || text[start] == '\v')) {
    ++start;
  }
  std::size_t cut = std::string::npos;
  for (const std::string& stop : stop_strings) {
    if (stop.empty()) continue;
    cut = std::min(cut, text.find(stop, start));
  }
  if (cut == std::string::npos) return false;
  text.resize(cut);
  return true;
}

}  // namespace

GenerationResult generate_greedy(const Model& model, const Tokenizer& tokenizer, KvCache& cache,
                                 std::span<const std::int32_t> prompt, const GenerationOptions& options) {
  if (prompt.empty()) throw Error(ErrorKind::kUsage, "generation needs a non-empty prompt");
  if (prompt.size() >= cache.capacity()) {
    throw Error(ErrorKind::kUsage, "the prompt has " + std::to_string(prompt.size()) +
                                       " tokens, which leaves no room to generate in a context of " +
                                       std::to_string(cache.capacity()));
  }
  GenerationResult result;
  cache.clear();
  std::vector<float> logits = model.forward(cache, prompt, 1);
  while (true) {
    if (result.tokens.size() >= options.max_new_tokens) {
      result.stop = GenerationResult::Stop::kMaxTokens;
      break;
    }
    const std::int32_t next = eval::greedy_token(model, logits);
    if (std::find(options.stop_ids.begin(), options.stop_ids.end(), next) != options.stop_ids.end()) {
      result.stop = GenerationResult::Stop::kEos;
      break;
    }
    result.tokens.push_back(next);
    result.text = tokenizer.decode(result.tokens, /*skip_special_tokens=*/true);
    if (cut_at_stop_string(result.text, options.stop_strings)) {
      result.stop = GenerationResult::Stop::kStopString;
      return result;
    }
    if (cache.size() >= cache.capacity()) {
      result.stop = GenerationResult::Stop::kContextFull;
      break;
    }
    logits = model.forward(cache, std::span<const std::int32_t>(&next, 1), 1);
  }
  result.text = tokenizer.decode(result.tokens, /*skip_special_tokens=*/true);
  return result;
}

}  // namespace paramdelta
