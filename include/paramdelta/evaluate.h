// Evaluation metrics on top of the forward pass (model.h) and the tokenizer:
// perplexity of a text with a sliding window, and accuracy on JSONL tasks,
// with prompts raw or rendered through the model's chat template.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "paramdelta/model.h"
#include "paramdelta/tokenizer.h"

namespace paramdelta {

// ---------------------------------------------------------------------------
// Perplexity
//
// The token sequence is cut into windows of `window` tokens starting every
// `stride` tokens (the last window ends at the last token). Each window is
// evaluated from an empty cache (positions restart at 0), and each token is
// scored once: in the first window that contains it and at least one token
// before it, excluding tokens an earlier window already scored. With
// stride < window every token but the first is scored and each one sees at
// least window - stride tokens of context (except near the start); with
// stride == window the first token of every window is not scored.
//   perplexity = exp(total negative log-likelihood / tokens scored)
//   bits per byte = total negative log-likelihood / ln(2) / bytes of text
// Progress within one evaluation: steps (windows, tasks) done of the total.
// A callback may throw (to stop the evaluation); the throw propagates.
using StepProgress = std::function<void(std::size_t done, std::size_t total)>;

struct PerplexityOptions {
  std::size_t context = 2048;  // window = min(context, max_position_embeddings)
  std::size_t stride = 0;      // 0: half the window
};

struct PerplexityResult {
  double perplexity = 0;
  double total_nll = 0;          // nats
  double mean_nll = 0;           // nats per scored token
  std::size_t tokens_total = 0;  // tokens in the sequence
  std::size_t tokens_scored = 0;
  std::size_t windows = 0;
  std::size_t window = 0;
  std::size_t stride = 0;
  std::uint64_t bytes = 0;   // UTF-8 bytes of the text (0 when scoring bare ids)
  double bits_per_byte = 0;  // 0 when bytes is 0
};

// Throws if fewer than two ids are given, the stride is 0 or exceeds the
// window, or the model produces non-finite logits.
// `progress` is called after each window.
PerplexityResult perplexity_of_ids(const Model& model, std::span<const std::int32_t> ids,
                                   const PerplexityOptions& options, const StepProgress& progress = {});

// Encodes `text` with the tokenizer's special tokens (BOS when it adds one).
// `token_limit` keeps only the first tokens; bytes then count the UTF-8 bytes
// of those tokens decoded (special tokens skipped).
PerplexityResult perplexity_of_text(const Model& model, const Tokenizer& tokenizer, std::string_view text,
                                    const PerplexityOptions& options, std::size_t token_limit = 0,
                                    const StepProgress& progress = {});

// ---------------------------------------------------------------------------
// Chat templates: a small Jinja subset, rendered as Hugging Face's
// apply_chat_template would (its Jinja settings: trim_blocks, lstrip_blocks).
//
// Supported:
//  - text, {{ expression }}, {# comments #}, whitespace control {%- -%} {{- -}} and {%+;
//  - {% for x in list %}...{% endfor %} with loop.index, index0, revindex,
//    revindex0, first, last, length, previtem, nextitem;
//  - {% if %} / {% elif %} / {% else %} / {% endif %}; {% set name = expression %};
//  - literals: 'strings' "strings" (escapes \n \t \r \\ \' \"), integers, true/false/none, [lists];
//  - message['role'], message.role, list[i] (negative i too), list[a:b], string[a:b];
//  - operators: + (strings, lists, integers), - * % on integers, ~, == != < > <= >=,
//    in / not in, and / or / not, "a if cond else b";
//  - tests: is [not] defined / undefined / none / string;
//  - filters: | trim, | length (| count); methods .strip() .lstrip() .rstrip()
//    (all strip ASCII whitespace only);
//  - raise_exception(message), which fails with the template's message;
//  - variables: messages (role/content dicts), add_generation_prompt, bos_token,
//    eos_token, and tools = documents = none (as Hugging Face passes them).
// Undefined values render as "" and are false, as in Jinja. Anything else
// (macros, other filters, tests, functions and methods, dict literals, floats,
// loop filters, ...) is an error naming the construct and its line; constructs
// that parse but are unsupported only fail when a template actually reaches
// them, so tool-use branches of a template do not prevent plain chats.
struct ChatMessage {
  std::string role;
  std::string content;
};

struct ChatTemplateInput {
  std::vector<ChatMessage> messages;
  bool add_generation_prompt = true;
  std::string bos_token;
  std::string eos_token;
};

// `label` names where the template came from, in errors.
std::string render_chat_template(std::string_view template_text, const ChatTemplateInput& input,
                                 const std::string& label);

// ---------------------------------------------------------------------------
// Tasks (JSONL, one object per line; blank lines are skipped):
//   {"prompt": "...", "answer": "..."}                 generation + exact match
//     optional "stop": "..." or ["...", ...]           replaces the default stop strings
//   {"prompt": "...", "choices": ["...", ...], "label": 0}   log-likelihood choice
//   either may carry "system": "..." (a system message when a chat template is used)
// Other fields (metadata such as "id" or "task") are ignored and their names
// reported through `ignored_fields`, so that a misspelt optional field
// ("stops", "sytem") can be noticed; a record missing "answer" or "choices"
// is an error.
enum class TaskKind { kGeneration, kChoice };

struct Task {
  TaskKind kind = TaskKind::kGeneration;
  std::size_t line = 0;  // 1-based line in the file
  std::string location;  // "<file>:<line>", for errors
  std::string prompt;
  std::optional<std::string> system;
  std::string answer;                            // generation
  std::optional<std::vector<std::string>> stop;  // generation
  std::vector<std::string> choices;              // choice
  std::size_t label = 0;                         // choice: index into choices
};

// `label` names the source in errors ("<label>:<line>: ..."). `limit` > 0 keeps the first tasks.
std::vector<Task> parse_tasks_jsonl(std::string_view text, const std::string& label, std::size_t limit = 0,
                                    std::vector<std::string>* ignored_fields = nullptr);
std::vector<Task> read_tasks_jsonl(const std::filesystem::path& path, std::size_t limit = 0,
                                   std::vector<std::string>* ignored_fields = nullptr);

// ---------------------------------------------------------------------------
// Accuracy
//
// Generation tasks: greedy decoding from the prompt until an end-of-sequence
// token (the tokenizer's EOS and config.json / generation_config.json
// eos_token_id), `max_new_tokens`, or the context is full. The decoded text
// (special tokens skipped) has its leading whitespace removed, is cut at the
// first occurrence of a stop string, and has ASCII whitespace trimmed at both
// ends; it is correct when it equals the answer with ASCII whitespace trimmed
// at both ends, byte for byte (case, punctuation and inner whitespace count).
//
// Choice tasks: each choice's continuation is scored by its summed
// log-probability given the prompt; the prediction is the highest-scoring
// choice (the first on ties). The continuation is the tokens of
// encode(prompt + choice) after their longest common prefix with
// encode(prompt), so a token merged across the boundary is scored with the choice.
//
// Prompts are encoded with the tokenizer's special tokens (BOS), or, with
// `chat_template`, rendered as [system,] user messages with
// add_generation_prompt and encoded without adding special tokens (the template
// writes them), as Hugging Face's apply_chat_template does.
struct AccuracyOptions {
  bool chat_template = false;
  std::size_t max_new_tokens = 32;
  std::vector<std::string> stop_strings = {"\n"};  // for tasks without their own "stop"
  std::size_t context = 4096;                      // capped at max_position_embeddings
  // Generation tasks decoded together (consecutive ones, up to this many);
  // the results do not depend on it, only the speed and the memory for caches.
  std::size_t batch_size = 16;
  // When set and true, generation stops at its next decoding step with an
  // Error of kind kCancelled.
  const std::atomic<bool>* cancel = nullptr;
};

struct TaskOutcome {
  std::size_t line = 0;
  bool correct = false;
  std::string prediction;                      // generation: the normalised text; choice: the chosen choice
  std::vector<double> choice_log_likelihoods;  // choice tasks
};

struct AccuracyResult {
  double accuracy = 0;
  std::size_t correct = 0;
  std::size_t total = 0;
  std::size_t generation_tasks = 0;
  std::size_t choice_tasks = 0;
  std::size_t prompt_tokens = 0;     // tokens of the (rendered) prompts, once per task
  std::size_t generated_tokens = 0;  // tokens produced by greedy decoding
  std::size_t scored_tokens = 0;     // choice-continuation tokens scored
  std::vector<TaskOutcome> outcomes;
};

using TaskProgress = StepProgress;  // after each task (a batch of generation tasks: after the batch)

AccuracyResult evaluate_accuracy(const Model& model, const Tokenizer& tokenizer,
                                 const std::vector<Task>& tasks, const AccuracyOptions& options,
                                 const TaskProgress& progress = {});

// The prompt as the model sees it: raw (a task with "system" is then an
// error), or rendered with the tokenizer's chat template; `template_label`
// names the template's source in errors.
std::string render_prompt(const Tokenizer& tokenizer, const Task& task, bool chat_template,
                          const std::string& template_label = "chat_template");

// ASCII whitespace (space, \t, \n, \r, \f, \v) removed at both ends.
std::string trim_ascii_whitespace(std::string_view text);

// ---------------------------------------------------------------------------
// Comparing models, as the reference implementation's
// compare_models(tasks=[...]): every model is scored on every evaluation (a
// metric on its data file), and each score is also given as a percentage of
// a reference model's.
enum class Metric { kPerplexity, kAccuracy };

std::string metric_name(Metric metric);  // "perplexity", "accuracy"
std::optional<Metric> metric_from_name(std::string_view name);

struct Evaluation {
  Metric metric = Metric::kPerplexity;
  std::string data;  // a text file (perplexity) or a JSONL task file (accuracy)
};

struct ComparisonOptions {
  std::vector<std::string> models;      // model directories, in the order to list them
  std::string reference;                // scores 100%; empty: the first of `models`
  std::vector<Evaluation> evaluations;  // each one run on every model, in this order
  PerplexityOptions perplexity;
  AccuracyOptions accuracy;
  std::size_t limit = 0;  // > 0: only the first tokens of each text, the first tasks of each task file
  // When set and true, the comparison stops at the next model, evaluation,
  // perplexity window or task (batch) with an Error of kind kCancelled.
  const std::atomic<bool>* cancel = nullptr;
};

struct ModelScore {
  std::string model;
  bool reference = false;
  std::optional<PerplexityResult> perplexity;  // the one of these two that the metric gives
  std::optional<AccuracyResult> accuracy;
  // 100 * score / the reference's score (perplexity or accuracy); none when
  // the reference's score is not positive and finite.
  std::optional<double> percent_of_reference;
};

struct EvaluationScores {
  Evaluation evaluation;
  std::vector<ModelScore> models;  // the reference first, then the other models in the order given
};

struct ModelComparison {
  std::string reference;
  std::vector<EvaluationScores> evaluations;  // in the order asked
};

struct ComparisonProgress {
  // Before a model is loaded: its position (from 1), the number of models, the model.
  std::function<void(std::size_t index, std::size_t count, const std::string& model)> model_started;
  // What is worth a note and is no error: fields of a task file that are
  // ignored, what loading a model noticed ("<file or model>: <note>").
  std::function<void(const std::string& note)> note;
  // Before a model's evaluation: its position among the evaluations (from 1), their number, the evaluation.
  std::function<void(std::size_t index, std::size_t count, const Evaluation& evaluation)> evaluation_started;
  // Within the current evaluation: windows (perplexity) or tasks (accuracy) done, of the total.
  StepProgress step;
};

// Reads and checks every data file first (an empty text or a bad task line is
// an error before any model is loaded), then loads each model once, with its
// tokenizer, and runs every evaluation on it. A model that is also the
// reference (the same directory) is evaluated once, as the reference.
ModelComparison compare_models(const ComparisonOptions& options, const ComparisonProgress& progress = {});

// Indented JSON. One evaluation: {"metric", "data", "reference", "models":
// [per model: "model", "reference", "percent_of_reference" and the result's
// fields]}; several: {"reference", "evaluations": [one such object each]}.
std::string to_json(const ModelComparison& comparison);

// ---------------------------------------------------------------------------
// Greedy generation.
struct GenerationOptions {
  std::size_t max_new_tokens = 32;
  std::vector<std::int32_t> stop_ids;     // end-of-sequence tokens (not included in the result)
  std::vector<std::string> stop_strings;  // checked on the decoded text after its leading whitespace
  // When set and true, decoding stops before its next step with an Error of kind kCancelled.
  const std::atomic<bool>* cancel = nullptr;
};

struct GenerationResult {
  std::vector<std::int32_t> tokens;
  std::string text;  // decoded, special tokens skipped, cut before a stop string
  enum class Stop { kEos, kStopString, kMaxTokens, kContextFull } stop = Stop::kMaxTokens;
};

// Clears `cache`, runs the prompt, then decodes while the cache has room.
GenerationResult generate_greedy(const Model& model, const Tokenizer& tokenizer, KvCache& cache,
                                 std::span<const std::int32_t> prompt, const GenerationOptions& options);

// Several prompts decoded together, prompt i with options[i], each in a cache
// of `context` positions. Result i is exactly what generate_greedy gives
// prompt i alone (Model::decode is batch-invariant); together, the weights
// are read once per step for all of them.
std::vector<GenerationResult> generate_greedy_batch(const Model& model, const Tokenizer& tokenizer,
                                                    std::span<const std::span<const std::int32_t>> prompts,
                                                    std::span<const GenerationOptions> options,
                                                    std::size_t context);

// End-of-sequence ids of a model: its config's and the tokenizer's.
std::vector<std::int32_t> end_of_sequence_ids(const Model& model, const Tokenizer& tokenizer);

}  // namespace paramdelta
