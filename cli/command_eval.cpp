// paramdelta eval: perplexity or task accuracy of several models side by
// side, each also as a percentage of a reference model's score.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "command.h"
#include "io/json_strict.h"
#include "paramdelta/error.h"
#include "paramdelta/evaluate.h"
#include "paramdelta/model.h"
#include "paramdelta/tokenizer.h"

namespace paramdelta::cli {

namespace {

constexpr std::uint64_t kMaxTextBytes = 1ull << 30;

struct EvalOptions {
  std::vector<std::string> models;
  std::string reference;
  std::string data;
  std::string metric;
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

struct Row {
  std::string model;
  bool reference = false;
  std::optional<PerplexityResult> perplexity;
  std::optional<AccuracyResult> accuracy;
  double score() const { return perplexity ? perplexity->perplexity : accuracy->accuracy; }
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

bool same_directory(const std::string& a, const std::string& b) {
  std::error_code ec1, ec2;
  auto ca = std::filesystem::weakly_canonical(a, ec1);
  auto cb = std::filesystem::weakly_canonical(b, ec2);
  return !ec1 && !ec2 ? ca == cb : a == b;
}

std::optional<double> percent_of(double value, double reference) {
  if (!(reference > 0) || !std::isfinite(reference)) return std::nullopt;
  return 100.0 * value / reference;
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

void print_table(const EvalOptions& options, const std::vector<Row>& rows, const Row& reference,
                 const std::vector<std::string>& stops) {
  const bool ppl = options.metric == "perplexity";
  std::size_t width = 5;
  for (const Row& row : rows) width = std::max(width, row.model.size() + (row.reference ? 12 : 0));
  const int w = static_cast<int>(width);
  if (ppl) {
    std::printf("%-*s  %12s  %10s  %10s  %12s\n", w, "model", "perplexity", "bits/byte", "tokens",
                "% of ref");
  } else {
    std::printf("%-*s  %9s  %11s  %13s  %10s  %12s\n", w, "model", "accuracy", "correct", "prompt tokens",
                "generated", "% of ref");
  }
  for (const Row& row : rows) {
    const std::string name = row.model + (row.reference ? " (reference)" : "");
    const std::string percent = format_percent(percent_of(row.score(), reference.score()));
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
    const PerplexityResult& r = *reference.perplexity;
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

nlohmann::json to_json(const EvalOptions& options, const std::vector<Row>& rows, const Row& reference) {
  nlohmann::json out;
  out["metric"] = options.metric;
  out["data"] = options.data;
  out["reference"] = reference.model;
  nlohmann::json records = nlohmann::json::array();
  for (const Row& row : rows) {
    nlohmann::json record;
    record["model"] = row.model;
    record["reference"] = row.reference;
    if (row.perplexity) {
      const PerplexityResult& r = *row.perplexity;
      record["perplexity"] = r.perplexity;
      record["bits_per_byte"] = r.bits_per_byte;
      record["mean_nll"] = r.mean_nll;
      record["tokens_scored"] = r.tokens_scored;
      record["tokens_total"] = r.tokens_total;
      record["bytes"] = r.bytes;
      record["window"] = r.window;
      record["stride"] = r.stride;
      record["windows"] = r.windows;
    } else {
      const AccuracyResult& r = *row.accuracy;
      record["accuracy"] = r.accuracy;
      record["correct"] = r.correct;
      record["total"] = r.total;
      record["generation_tasks"] = r.generation_tasks;
      record["choice_tasks"] = r.choice_tasks;
      record["prompt_tokens"] = r.prompt_tokens;
      record["generated_tokens"] = r.generated_tokens;
      record["scored_tokens"] = r.scored_tokens;
      nlohmann::json outcomes = nlohmann::json::array();
      for (const TaskOutcome& o : r.outcomes) {
        nlohmann::json item{{"line", o.line}, {"correct", o.correct}, {"prediction", o.prediction}};
        if (!o.choice_log_likelihoods.empty()) item["choice_log_likelihoods"] = o.choice_log_likelihoods;
        outcomes.push_back(std::move(item));
      }
      record["outcomes"] = std::move(outcomes);
    }
    std::optional<double> percent = percent_of(row.score(), reference.score());
    record["percent_of_reference"] = percent ? nlohmann::json(*percent) : nlohmann::json(nullptr);
    records.push_back(std::move(record));
  }
  out["models"] = std::move(records);
  return out;
}

int run_eval(const EvalOptions& options) {
  const bool ppl = options.metric == "perplexity";
  if (ppl && options.chat_template) {
    throw Error(ErrorKind::kUsage, "--chat-template applies to --metric accuracy only");
  }
  if (!ppl && options.stride != 0)
    throw Error(ErrorKind::kUsage, "--stride applies to --metric perplexity only");
  set_compute_threads(options.threads);

  // The reference is evaluated first (and listed first); without --reference, the first --model is it.
  std::vector<Row> rows;
  if (!options.reference.empty()) {
    rows.push_back(Row{options.reference, true, {}, {}});
  }
  for (const std::string& model : options.models) {
    if (!options.reference.empty() && same_directory(model, options.reference)) continue;
    rows.push_back(Row{model, rows.empty(), {}, {}});
  }

  // Inputs are read and checked once, before any model is loaded.
  std::string text;
  std::vector<Task> tasks;
  if (ppl) {
    text = read_small_file(options.data, kMaxTextBytes);
    if (text.empty())
      throw Error(ErrorKind::kUsage, "the text file is empty", ErrorContext{options.data, {}, {}});
  } else {
    std::vector<std::string> ignored;
    tasks = read_tasks_jsonl(options.data, options.limit, &ignored);
    if (!ignored.empty()) {
      std::string names;
      for (const std::string& name : ignored) names += (names.empty() ? "'" : ", '") + name + "'";
      std::cerr << "paramdelta: note: " << options.data << ": ignoring fields " << names << "\n";
    }
  }
  std::vector<std::string> stop_strings;
  for (const std::string& s : options.stop) stop_strings.push_back(unescape(s));
  if (options.no_stop && !stop_strings.empty())
    throw Error(ErrorKind::kUsage, "--no-stop contradicts --stop");
  if (stop_strings.empty() && !options.no_stop) stop_strings.push_back("\n");

  for (std::size_t i = 0; i < rows.size(); ++i) {
    Row& row = rows[i];
    std::cerr << "paramdelta: evaluating " << row.model << " (" << i + 1 << "/" << rows.size() << ")\n";
    Tokenizer tokenizer =
        Tokenizer::from_model_dir(row.model);  // cheap, so a missing one fails before the load
    Model model = Model::load(row.model);
    for (const std::string& note : model.notes())
      std::cerr << "paramdelta: note: " << row.model << ": " << note << "\n";
    if (ppl) {
      PerplexityOptions perplexity;
      perplexity.context = options.context;
      perplexity.stride = options.stride;
      row.perplexity = perplexity_of_text(model, tokenizer, text, perplexity, options.limit);
    } else {
      AccuracyOptions accuracy;
      accuracy.chat_template = options.chat_template;
      accuracy.max_new_tokens = options.max_new_tokens;
      accuracy.stop_strings = stop_strings;
      accuracy.context = options.context;
      accuracy.batch_size = options.batch;
      row.accuracy = evaluate_accuracy(model, tokenizer, tasks, accuracy);
    }
  }

  const Row& reference = rows.front();
  if (options.json) {
    std::cout << to_json(options, rows, reference).dump(2) << "\n";
  } else {
    print_table(options, rows, reference, stop_strings);
  }
  return 0;
}

std::function<int()> setup(CLI::App& app) {
  auto options = std::make_shared<EvalOptions>();
  app.add_option("--model", options->models,
                 "model directory (config.json, safetensors, tokenizer.json); repeat to compare several")
      ->required();
  app.add_option("--data", options->data, "a text file (perplexity) or a JSONL task file (accuracy)")
      ->required();
  app.add_option("--metric", options->metric, "perplexity or accuracy")
      ->required()
      ->check(CLI::IsMember({"perplexity", "accuracy"}));
  app.add_option("--reference", options->reference,
                 "model whose score is 100% (evaluated too; default: the first --model)");
  app.add_flag("--json", options->json, "print one JSON record per model instead of a table");
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
