// Greedy decoding with key/value caches: each prompt goes through the model as
// one matrix product, then the running sequences advance together, one token
// each per step (Model::decode), so the weights are read once per step for
// the whole batch rather than once per sequence.
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

namespace {

// One prompt being decoded.
struct Sequence {
  const GenerationOptions* options = nullptr;
  KvCache* cache = nullptr;
  GenerationResult result;
  std::int32_t next = 0;  // the token to feed, while the sequence runs
};

// Takes the token the logits pick. Returns true when it is to be fed back
// (in sequence.next); false when the sequence has ended, its result complete.
bool take_token(const Model& model, const Tokenizer& tokenizer, Sequence& sequence,
                std::span<const float> logits) {
  GenerationResult& result = sequence.result;
  const GenerationOptions& options = *sequence.options;
  if (result.tokens.size() >= options.max_new_tokens) {
    result.stop = GenerationResult::Stop::kMaxTokens;
  } else {
    const std::int32_t next = eval::greedy_token(model, logits);
    if (std::find(options.stop_ids.begin(), options.stop_ids.end(), next) != options.stop_ids.end()) {
      result.stop = GenerationResult::Stop::kEos;
    } else {
      result.tokens.push_back(next);
      result.text = tokenizer.decode(result.tokens, /*skip_special_tokens=*/true);
      if (cut_at_stop_string(result.text, options.stop_strings)) {
        result.stop = GenerationResult::Stop::kStopString;
        return false;
      }
      if (sequence.cache->size() < sequence.cache->capacity()) {
        sequence.next = next;
        return true;
      }
      result.stop = GenerationResult::Stop::kContextFull;
    }
  }
  result.text = tokenizer.decode(result.tokens, /*skip_special_tokens=*/true);
  return false;
}

// Runs every prompt on its own (cleared) cache, then decodes all running
// sequences together, one token each per step.
void decode_together(const Model& model, const Tokenizer& tokenizer, std::span<Sequence> sequences,
                     std::span<const std::span<const std::int32_t>> prompts) {
  std::vector<Sequence*> running;
  for (std::size_t i = 0; i < sequences.size(); ++i) {
    const std::span<const std::int32_t> prompt = prompts[i];
    KvCache& cache = *sequences[i].cache;
    if (prompt.empty()) throw Error(ErrorKind::kUsage, "generation needs a non-empty prompt");
    if (prompt.size() >= cache.capacity()) {
      throw Error(ErrorKind::kUsage, "the prompt has " + std::to_string(prompt.size()) +
                                         " tokens, which leaves no room to generate in a context of " +
                                         std::to_string(cache.capacity()));
    }
    cache.clear();
    if (take_token(model, tokenizer, sequences[i], model.forward(cache, prompt, 1)))
      running.push_back(&sequences[i]);
  }
  const std::size_t vocab = static_cast<std::size_t>(model.config().vocab_size);
  std::vector<KvCache*> caches;
  std::vector<std::int32_t> ids;
  while (!running.empty()) {
    for (const Sequence* sequence : running) {
      const std::atomic<bool>* cancel = sequence->options->cancel;
      if (cancel != nullptr && cancel->load()) throw Error(ErrorKind::kCancelled, "generation cancelled");
    }
    caches.clear();
    ids.clear();
    for (Sequence* sequence : running) {
      caches.push_back(sequence->cache);
      ids.push_back(sequence->next);
    }
    const std::vector<float> logits = model.decode(caches, ids);
    std::size_t kept = 0;
    for (std::size_t i = 0; i < running.size(); ++i) {
      const std::span<const float> row(logits.data() + i * vocab, vocab);
      if (take_token(model, tokenizer, *running[i], row)) running[kept++] = running[i];
    }
    running.resize(kept);
  }
}

}  // namespace

GenerationResult generate_greedy(const Model& model, const Tokenizer& tokenizer, KvCache& cache,
                                 std::span<const std::int32_t> prompt, const GenerationOptions& options) {
  Sequence sequence;
  sequence.options = &options;
  sequence.cache = &cache;
  decode_together(model, tokenizer, std::span(&sequence, 1), std::span(&prompt, 1));
  return std::move(sequence.result);
}

std::vector<GenerationResult> generate_greedy_batch(const Model& model, const Tokenizer& tokenizer,
                                                    std::span<const std::span<const std::int32_t>> prompts,
                                                    std::span<const GenerationOptions> options,
                                                    std::size_t context) {
  if (options.size() != prompts.size()) {
    throw Error(ErrorKind::kUsage, std::to_string(prompts.size()) + " prompts but " +
                                       std::to_string(options.size()) + " sets of generation options");
  }
  std::vector<KvCache> caches;
  caches.reserve(prompts.size());
  std::vector<Sequence> sequences(prompts.size());
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    caches.push_back(model.new_cache(context));
    sequences[i].options = &options[i];
    sequences[i].cache = &caches[i];
  }
  decode_together(model, tokenizer, sequences, prompts);
  std::vector<GenerationResult> results;
  results.reserve(sequences.size());
  for (Sequence& sequence : sequences) results.push_back(std::move(sequence.result));
  return results;
}

}  // namespace paramdelta
