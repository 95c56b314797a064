// Batched greedy generation on the bundled tiny family (real weights, real
// tokenizer and chat template): every prompt gets exactly what it gets alone,
// whatever the batch, and task accuracy does not depend on the batch size.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "paramdelta/error.h"
#include "paramdelta/evaluate.h"
#include "paramdelta/model.h"
#include "paramdelta/tokenizer.h"

namespace paramdelta {
namespace {

const std::filesystem::path kFamily = std::filesystem::path(PARAMDELTA_SOURCE_DIR) / "models" / "tiny";

struct Loaded {
  Model model;
  Tokenizer tokenizer;
};

Loaded load(const std::string& name) {
  return {Model::load(kFamily / name), Tokenizer::from_model_dir(kFamily / name)};
}

std::vector<std::vector<std::int32_t>> chat_prompts(const Tokenizer& tokenizer, const std::string& file,
                                                    std::size_t count) {
  std::vector<std::vector<std::int32_t>> prompts;
  for (const Task& task : read_tasks_jsonl(kFamily / "eval" / file, count))
    prompts.push_back(tokenizer.encode(render_prompt(tokenizer, task, /*chat_template=*/true), false));
  return prompts;
}

// Options that end sequences at different steps and for different reasons.
std::vector<GenerationOptions> mixed_options(const Model& model, const Tokenizer& tokenizer,
                                             std::size_t count) {
  std::vector<GenerationOptions> options(count);
  for (std::size_t i = 0; i < count; ++i) {
    options[i].stop_ids = end_of_sequence_ids(model, tokenizer);
    options[i].max_new_tokens = i % 3 == 0 ? 4 : 32;
    if (i % 4 == 1) options[i].stop_strings = {","};
  }
  return options;
}

void expect_same(const GenerationResult& a, const GenerationResult& b, const std::string& what) {
  EXPECT_EQ(a.tokens, b.tokens) << what;
  EXPECT_EQ(a.text, b.text) << what;
  EXPECT_EQ(a.stop, b.stop) << what;
}

TEST(BatchedGeneration, EachPromptGetsWhatItGetsAlone) {
  for (const std::string name : {"chat-v1", "base-v2"}) {  // one that stops at <|end|>, one that never does
    const Loaded loaded = load(name);
    std::vector<std::vector<std::int32_t>> ids = chat_prompts(loaded.tokenizer, "instruct.jsonl", 20);
    for (auto& more : chat_prompts(loaded.tokenizer, "knowledge_new.jsonl", 10)) ids.push_back(more);
    const std::vector<GenerationOptions> options = mixed_options(loaded.model, loaded.tokenizer, ids.size());
    const std::vector<std::span<const std::int32_t>> prompts(ids.begin(), ids.end());
    const std::vector<GenerationResult> batch =
        generate_greedy_batch(loaded.model, loaded.tokenizer, prompts, options, 256);
    ASSERT_EQ(batch.size(), ids.size());

    // The same prompts in reverse order, so each sits elsewhere in the batch.
    const std::vector<std::span<const std::int32_t>> reversed(prompts.rbegin(), prompts.rend());
    const std::vector<GenerationOptions> reversed_options(options.rbegin(), options.rend());
    const std::vector<GenerationResult> backwards =
        generate_greedy_batch(loaded.model, loaded.tokenizer, reversed, reversed_options, 256);

    KvCache cache = loaded.model.new_cache(256);
    std::set<std::size_t> lengths;
    std::set<GenerationResult::Stop> stops;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const GenerationResult alone =
          generate_greedy(loaded.model, loaded.tokenizer, cache, ids[i], options[i]);
      const std::string what = name + " prompt " + std::to_string(i);
      expect_same(alone, batch[i], what + " (batch)");
      expect_same(alone, backwards[ids.size() - 1 - i], what + " (reversed batch)");
      lengths.insert(alone.tokens.size());
      stops.insert(alone.stop);
    }
    // Guards the comparison: sequences left the batch at different steps
    // (the chat model for different reasons too).
    EXPECT_GE(lengths.size(), 2u) << name;
    if (name == "chat-v1") {
      EXPECT_GE(stops.size(), 2u);
    }
  }
}

TEST(BatchedGeneration, AccuracyDoesNotDependOnTheBatchSize) {
  const Loaded loaded = load("chat-v2");
  // Generation tasks with a choice task between them, so runs of generation are cut.
  std::vector<Task> tasks = read_tasks_jsonl(kFamily / "eval" / "instruct.jsonl", 23);
  Task choice;
  choice.kind = TaskKind::kChoice;
  choice.prompt = "Which word comes first here: sun, moon";
  choice.choices = {" sun", " moon"};
  choice.label = 0;
  tasks.insert(tasks.begin() + 9, choice);
  AccuracyOptions options;
  options.chat_template = true;
  std::vector<AccuracyResult> results;
  for (std::size_t batch : {1, 4, 16, 64}) {
    options.batch_size = batch;
    results.push_back(evaluate_accuracy(loaded.model, loaded.tokenizer, tasks, options));
  }
  EXPECT_GT(results[0].correct, 0u);  // the model does answer some: the comparison is not of empty strings
  for (std::size_t i = 1; i < results.size(); ++i) {
    EXPECT_EQ(results[i].correct, results[0].correct);
    EXPECT_EQ(results[i].generated_tokens, results[0].generated_tokens);
    EXPECT_EQ(results[i].prompt_tokens, results[0].prompt_tokens);
    ASSERT_EQ(results[i].outcomes.size(), tasks.size());
    for (std::size_t t = 0; t < tasks.size(); ++t) {
      EXPECT_EQ(results[i].outcomes[t].line, results[0].outcomes[t].line);
      EXPECT_EQ(results[i].outcomes[t].prediction, results[0].outcomes[t].prediction) << "task " << t;
      EXPECT_EQ(results[i].outcomes[t].choice_log_likelihoods, results[0].outcomes[t].choice_log_likelihoods);
    }
  }
  options.batch_size = 0;
  EXPECT_THROW(evaluate_accuracy(loaded.model, loaded.tokenizer, tasks, options), Error);
}

}  // namespace
}  // namespace paramdelta
