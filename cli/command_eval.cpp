// paramdelta eval: perplexity or task accuracy of several models side by
// side, each also as a percentage of a reference model's score.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>

#include "command.h"
#include "paramdelta/error.h"
#include "paramdelta/evaluate.h"
#include "paramdelta/model.h"

namespace paramdelta::cli {

namespace {

struct EvalOptions {
  std::vector<std::string> models;
  std::string reference;
  std::vector<std::string> data;
  std::vector<std::string> metrics;
  bool json = false;
  std::size_t context = 2048;
  std::size_t stride = 0;
  std::size_t max_new_tokens = 32;
  std::size_t batch = AccuracyOptions{}.batch_size;
  bool chat_template = false;
  int threads = 0;
  std::size_t limit = 0;
  std::vector<std::string> stop;
  bool no_stop = false;
};

// "\n", "\t", "\\" in --stop values, since shells make real newlines awkward.
std::string unescape(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\' || i + 1 == text.size()) {
      out += text[i];
      continue;
    }
    char e = text[++i];
    if (e == 'n')
      out += '\n';
    else if (e == 't')
      out += '\t';
    else if (e == 'r')
      out += '\r';
    else if (e == '\\')
      out += '\\';
    else
      throw Error(ErrorKind::kUsage, std::string("unknown escape '\\") + e + "'",
                  ErrorContext{{}, {}, "--stop"}, "use \\n, \\t, \\r or \\\\");
  }
  if (out.empty())
    throw Error(ErrorKind::kUsage, "stop strings must not be empty", ErrorContext{{}, {}, "--stop"});
  return out;
}

std::string format_percent(std::optional<double> p) {
  if (!p) return "n/a";
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.2f%%", *p);
  return buffer;
}

std::string describe_stops(const std::vector<std::string>& stops) {
  if (stops.empty()) return "none";
  std::string out;
  for (const std::string& stop : stops) {
    out += out.empty() ? "\"" : ", \"";
    for (char c : stop) out += c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r" : std::string(1, c);
    out += "\"";
  }
  return out;
}

void print_table(const EvalOptions& options, const EvaluationScores& scores,
                 const std::vector<std::string>& stops) {
  const bool ppl = scores.evaluation.metric == Metric::kPerplexity;
  const std::vector<ModelScore>& rows = scores.models;
  std::size_t width = 5;
  for (const ModelScore& row : rows) width = std::max(width, row.model.size() + (row.reference ? 12 : 0));
  const int w = static_cast<int>(width);
  if (ppl) {
    std::printf("%-*s  %12s  %10s  %10s  %12s\n", w, "model", "perplexity", "bits/byte", "tokens",
                "% of ref");
  } else {
    std::printf("%-*s  %9s  %11s  %13s  %10s  %12s\n", w, "model", "accuracy", "correct", "prompt tokens",
                "generated", "% of ref");
  }
  for (const ModelScore& row : rows) {
    const std::string name = row.model + (row.reference ? " (reference)" : "");
    const std::string percent = format_percent(row.percent_of_reference);
    if (ppl) {
      const PerplexityResult& r = *row.perplexity;
      std::printf("%-*s  %12.4f  %10.4f  %10zu  %12s\n", w, name.c_str(), r.perplexity, r.bits_per_byte,
                  r.tokens_scored, percent.c_str());
    } else {
      const AccuracyResult& r = *row.accuracy;
      const std::string correct = std::to_string(r.correct) + "/" + std::to_string(r.total);
      std::printf("%-*s  %8.2f%%  %11s  %13zu  %10zu  %12s\n", w, name.c_str(), 100.0 * r.accuracy,
                  correct.c_str(), r.prompt_tokens, r.generated_tokens, percent.c_str());
    }
  }
  if (ppl) {
    const PerplexityResult& r = *rows.front().perplexity;
    std::printf("\nperplexity: lower is better; window %zu tokens, stride %zu; tokens = tokens scored\n",
                r.window, r.stride);
  } else {
    std::printf(
        "\ngeneration tasks: greedy, at most %zu new tokens, ended by EOS; the text after its leading\n"
        "whitespace is cut at the first stop string (%s, unless a task has its own) and must equal\n"
        "the answer after trimming ASCII whitespace at both ends. choice tasks: highest summed\n"
        "log-likelihood of the choice's tokens.%s\n",
        options.max_new_tokens, describe_stops(stops).c_str(),
        options.chat_template ? " prompts rendered with each model's chat template." : "");
  }
}

// The i-th --metric is measured on the i-th --data.
std::vector<Evaluation> evaluations_of(const EvalOptions& options) {
  if (options.metrics.size() != options.data.size()) {
    std::string names;
    for (const std::string& m : options.metrics) names += (names.empty() ? "" : ", ") + m;
    const auto count = [](std::size_t n, const std::string& what) {
      return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
    };
    throw Error(ErrorKind::kUsage,
                "--metric names " + count(options.metrics.size(), "metric") + " (" + names + ") but " +
                    count(options.data.size(), "--data file") + " given",
                ErrorContext{},
                "give one --data per metric, in the same order: the i-th --data is the i-th metric's");
  }
  std::vector<Evaluation> out;
  for (std::size_t i = 0; i < options.metrics.size(); ++i)
    out.push_back({*metric_from_name(options.metrics[i]), options.data[i]});
  return out;
}

int run_eval(const EvalOptions& options) {
  ComparisonOptions comparison;
  comparison.models = options.models;
  comparison.reference = options.reference;
  comparison.evaluations = evaluations_of(options);
  const auto measures = [&](Metric metric) {
    return std::any_of(comparison.evaluations.begin(), comparison.evaluations.end(),
                       [&](const Evaluation& e) { return e.metric == metric; });
  };
  if (options.chat_template && !measures(Metric::kAccuracy)) {
    throw Error(ErrorKind::kUsage, "--chat-template applies to --metric accuracy only");
  }
  if (options.stride != 0 && !measures(Metric::kPerplexity))
    throw Error(ErrorKind::kUsage, "--stride applies to --metric perplexity only");
  set_compute_threads(options.threads);

  std::vector<std::string> stop_strings;
  for (const std::string& s : options.stop) stop_strings.push_back(unescape(s));
  if (options.no_stop && !stop_strings.empty())
    throw Error(ErrorKind::kUsage, "--no-stop contradicts --stop");
  if (stop_strings.empty() && !options.no_stop) stop_strings.push_back("\n");

  comparison.perplexity.context = options.context;
  comparison.perplexity.stride = options.stride;
  comparison.accuracy.chat_template = options.chat_template;
  comparison.accuracy.max_new_tokens = options.max_new_tokens;
  comparison.accuracy.stop_strings = stop_strings;
  comparison.accuracy.context = options.context;
  comparison.accuracy.batch_size = options.batch;
  comparison.limit = options.limit;

  ComparisonProgress progress;
  progress.model_started = [](std::size_t index, std::size_t count, const std::string& model) {
    std::cerr << "paramdelta: evaluating " << model << " (" << index << "/" << count << ")\n";
  };
  progress.note = [](const std::string& note) { std::cerr << "paramdelta: note: " << note << "\n"; };
  const ModelComparison result = compare_models(comparison, progress);

  if (options.json) {
    std::cout << to_json(result) << "\n";
    return 0;
  }
  const bool several = result.evaluations.size() > 1;
  for (std::size_t i = 0; i < result.evaluations.size(); ++i) {
    const EvaluationScores& scores = result.evaluations[i];
    if (several)
      std::printf("%s%s on %s:\n", i == 0 ? "" : "\n", metric_name(scores.evaluation.metric).c_str(),
                  scores.evaluation.data.c_str());
    print_table(options, scores, stop_strings);
  }
  return 0;
}

std::function<int()> setup(CLI::App& app) {
  auto options = std::make_shared<EvalOptions>();
  app.add_option("--model", options->models,
                 "model directory (config.json, safetensors, tokenizer.json); repeat to compare several")
      ->required();
  app.add_option(
         "--data", options->data,
         "a text file (perplexity) or a JSONL task file (accuracy); one per --metric, in the same order")
      ->required();
  app.add_option(
         "--metric", options->metrics,
         "perplexity or accuracy; several (perplexity,accuracy or --metric repeated) are measured in one "
         "run, the i-th on the i-th --data, and give one table each")
      ->required()
      ->delimiter(',')
      ->check(CLI::IsMember({"perplexity", "accuracy"}));
  app.add_option("--reference", options->reference,
                 "model whose score is 100% (evaluated too; default: the first --model)");
  app.add_flag("--json", options->json,
               "print one JSON record per model instead of a table (with several metrics, a list of them)");
  app.add_option("--context", options->context, "context window in tokens, capped at max_position_embeddings")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{2}, std::size_t{1} << 40));
  app.add_option("--stride", options->stride,
                 "perplexity: tokens between window starts (default: half the window)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 40));
  app.add_option("--max-new-tokens", options->max_new_tokens, "accuracy: generation length limit")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20));
  app.add_option("--batch", options->batch,
                 "accuracy: generation tasks decoded together (the results do not depend on it; larger "
                 "batches read the weights less often and keep more key/value caches)")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{4096}));
  app.add_option("--stop", options->stop,
                 "accuracy: stop string for generation tasks without their own (repeatable; \\n \\t escapes; "
                 "default \\n)");
  app.add_flag("--no-stop", options->no_stop,
               "accuracy: no default stop string; generation ends at EOS or --max-new-tokens");
  app.add_flag("--chat-template", options->chat_template,
               "accuracy: render prompts with each model's chat template (a Jinja subset)");
  app.add_option("--threads", options->threads, "compute threads (default: the BLAS's own setting)")
      ->check(CLI::Range(1, 4096));
  app.add_option("--limit", options->limit, "only the first N tasks (accuracy) or tokens (perplexity)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 40));
  return [options] { return run_eval(*options); };
}

static CommandRegistrar registrar{
    {"eval",
     "compare models' perplexity on a text or accuracy on JSONL tasks, against a reference model",
     setup,
     {}}};

}  // namespace

}  // namespace paramdelta::cli
