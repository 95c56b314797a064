// Task accuracy: greedy generation with exact match, and log-likelihood
// choice. The rules (normalisation, continuation tokens) are in evaluate.h.
#include <algorithm>
#include <limits>

#include "eval/scoring.h"
#include "paramdelta/error.h"
#include "paramdelta/evaluate.h"

namespace paramdelta {

std::string render_prompt(const Tokenizer& tokenizer, const Task& task, bool chat_template,
                          const std::string& template_label) {
  if (!chat_template) {
    if (task.system) {
      throw Error(
          ErrorKind::kUsage, "a task with a 'system' message needs " + option_ref("chat_template", "true"),
          ErrorContext{task.location, {}, "system"}, "raw prompts have no place for a system message");
    }
    return task.prompt;
  }
  if (tokenizer.chat_template().empty()) {
    throw Error(
        ErrorKind::kUsage, "the tokenizer has no chat template", ErrorContext{template_label, {}, {}},
        "run without " + option_ref("chat_template") + ", or add chat_template to tokenizer_config.json");
  }
  ChatTemplateInput input;
  if (task.system) input.messages.push_back({"system", *task.system});
  input.messages.push_back({"user", task.prompt});
  input.add_generation_prompt = true;
  auto token_text = [&](std::optional<std::int32_t> id) {
    std::optional<std::string> text = id ? tokenizer.id_to_token(*id) : std::nullopt;
    return text.value_or(std::string());
  };
  input.bos_token = token_text(tokenizer.bos_id());
  input.eos_token = token_text(tokenizer.eos_id());
  return render_chat_template(tokenizer.chat_template(), input, template_label);
}

namespace {

// Scores continuations against a cache that keeps the longest prefix shared
// with the previous sequence, so a prompt's choices reuse its computation.
class ContinuationScorer {
 public:
  ContinuationScorer(const Model& model, std::size_t context)
      : model_(model), cache_(model.new_cache(context)) {}

  // Sum of log p(ids[i] | ids[..i]) for i in [first, ids.size()); needs first >= 1.
  double log_likelihood(std::span<const std::int32_t> ids, std::size_t first) {
    // Logits for positions first-1 .. n-2 are needed, so at least position
    // first-1 is recomputed even when it is already cached.
    const std::size_t n = ids.size();
    const std::size_t reuse = std::min(eval::common_prefix(cached_, ids), first - 1);
    cache_.truncate(reuse);
    cached_.resize(reuse);
    std::span<const std::int32_t> feed = ids.subspan(reuse, n - 1 - reuse);
    std::vector<float> hidden = model_.forward_hidden(cache_, feed, n - first);
    cached_.assign(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(n - 1));
    return -eval::negative_log_likelihood(model_, hidden, ids.subspan(first));
  }

 private:
  const Model& model_;
  KvCache cache_;
  std::vector<std::int32_t> cached_;  // the tokens whose keys/values are in cache_
};

std::string where(const Task& task) {
  return task.location.empty() ? "line " + std::to_string(task.line) : task.location;
}

// A choice task: every choice's continuation scored, the best one predicted.
TaskOutcome score_choices(ContinuationScorer& scorer, const Tokenizer& tokenizer, const Task& task,
                          const std::string& prompt, const std::vector<std::int32_t>& prompt_ids,
                          bool add_special, std::size_t context, AccuracyResult& result) {
  TaskOutcome outcome;
  outcome.line = task.line;
  double best = -std::numeric_limits<double>::infinity();
  std::size_t best_index = 0;
  for (std::size_t c = 0; c < task.choices.size(); ++c) {
    const std::vector<std::int32_t> full = tokenizer.encode(prompt + task.choices[c], add_special);
    const std::size_t first = eval::common_prefix(prompt_ids, full);
    const std::string which = "choice " + std::to_string(c);
    if (first >= full.size()) {
      throw Error(ErrorKind::kInvalidInput, which + " adds no token to the prompt",
                  {where(task), {}, "choices"});
    }
    if (first == 0) {
      throw Error(ErrorKind::kInvalidInput, which + " has no prompt token before it to condition on",
                  {where(task), {}, "choices"}, "give a non-empty prompt or use a tokenizer that adds BOS");
    }
    if (full.size() > context) {
      throw Error(ErrorKind::kUsage,
                  "prompt and " + which + " have " + std::to_string(full.size()) +
                      " tokens; the context is " + std::to_string(context),
                  {where(task)}, "raise " + option_ref("context") + " (up to max_position_embeddings)");
    }
    const double log_likelihood = scorer.log_likelihood(full, first);
    result.scored_tokens += full.size() - first;
    outcome.choice_log_likelihoods.push_back(log_likelihood);
    if (log_likelihood > best) {
      best = log_likelihood;
      best_index = c;
    }
  }
  outcome.prediction = task.choices[best_index];
  outcome.correct = best_index == task.label;
  return outcome;
}

}  // namespace

AccuracyResult evaluate_accuracy(const Model& model, const Tokenizer& tokenizer,
                                 const std::vector<Task>& tasks, const AccuracyOptions& options,
                                 const TaskProgress& progress) {
  const std::size_t context = static_cast<std::size_t>(std::min<std::uint64_t>(
      options.context, static_cast<std::uint64_t>(model.config().max_position_embeddings)));
  if (context < 2) throw Error(ErrorKind::kUsage, "the context must be at least 2 tokens");
  if (options.batch_size == 0) throw Error(ErrorKind::kUsage, "the generation batch size must be at least 1");
  const std::string template_label =
      tokenizer.chat_template_source().empty() ? model.path().string() : tokenizer.chat_template_source();
  const bool add_special = !options.chat_template;
  ContinuationScorer scorer(model, context);
  const std::vector<std::int32_t> stop_ids = end_of_sequence_ids(model, tokenizer);

  AccuracyResult result;
  auto record = [&](TaskOutcome outcome) {
    result.correct += outcome.correct ? 1 : 0;
    ++result.total;
    result.outcomes.push_back(std::move(outcome));
    if (progress) progress(result.total, tasks.size());
  };

  std::size_t next = 0;
  while (next < tasks.size()) {
    if (tasks[next].kind == TaskKind::kChoice) {
      const Task& task = tasks[next++];
      const std::string prompt = render_prompt(tokenizer, task, options.chat_template, template_label);
      const std::vector<std::int32_t> prompt_ids = tokenizer.encode(prompt, add_special);
      result.prompt_tokens += prompt_ids.size();
      ++result.choice_tasks;
      record(score_choices(scorer, tokenizer, task, prompt, prompt_ids, add_special, context, result));
      continue;
    }
    // A run of consecutive generation tasks, decoded together.
    std::vector<const Task*> batch;
    std::vector<std::vector<std::int32_t>> prompt_ids;
    std::vector<GenerationOptions> generation;
    for (; next < tasks.size() && tasks[next].kind == TaskKind::kGeneration &&
           batch.size() < options.batch_size;
         ++next) {
      const Task& task = tasks[next];
      const std::string prompt = render_prompt(tokenizer, task, options.chat_template, template_label);
      std::vector<std::int32_t> ids = tokenizer.encode(prompt, add_special);
      if (ids.empty())
        throw Error(ErrorKind::kInvalidInput, "the prompt encodes to no tokens", {where(task)});
      if (ids.size() >= context) {
        throw Error(
            ErrorKind::kUsage,
            "the prompt has " + std::to_string(ids.size()) + " tokens; the context is " +
                std::to_string(context),
            {where(task)},
            "raise " + option_ref("context") + " (up to max_position_embeddings) or shorten the prompt");
      }
      result.prompt_tokens += ids.size();
      GenerationOptions& each = generation.emplace_back();
      each.max_new_tokens = options.max_new_tokens;
      each.stop_ids = stop_ids;
      each.stop_strings = task.stop ? *task.stop : options.stop_strings;
      each.cancel = options.cancel;
      batch.push_back(&task);
      prompt_ids.push_back(std::move(ids));
    }
    const std::vector<std::span<const std::int32_t>> prompts(prompt_ids.begin(), prompt_ids.end());
    std::vector<GenerationResult> generated =
        generate_greedy_batch(model, tokenizer, prompts, generation, context);
    for (std::size_t i = 0; i < batch.size(); ++i) {
      ++result.generation_tasks;
      result.generated_tokens += generated[i].tokens.size();
      TaskOutcome outcome;
      outcome.line = batch[i]->line;
      outcome.prediction = trim_ascii_whitespace(generated[i].text);
      outcome.correct = outcome.prediction == trim_ascii_whitespace(batch[i]->answer);
      record(std::move(outcome));
    }
  }
  result.accuracy =
      result.total == 0 ? 0.0 : static_cast<double>(result.correct) / static_cast<double>(result.total);
  return result;
}

}  // namespace paramdelta
