// compare_models: several models, several evaluations, one reference.
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "io/json_strict.h"
#include "paramdelta/error.h"
#include "paramdelta/evaluate.h"
#include "paramdelta/location.h"

namespace paramdelta {
namespace {

constexpr std::uint64_t kMaxTextBytes = 1ull << 30;

bool same_directory(const std::string& a, const std::string& b) {
  std::error_code ec1, ec2;
  auto ca = std::filesystem::weakly_canonical(a, ec1);
  auto cb = std::filesystem::weakly_canonical(b, ec2);
  return !ec1 && !ec2 ? ca == cb : a == b;
}

void stop_if_cancelled(const ComparisonOptions& options) {
  if (options.cancel != nullptr && options.cancel->load())
    throw Error(ErrorKind::kCancelled, "evaluation cancelled");
}

double score_of(const ModelScore& s) {
  return s.perplexity ? s.perplexity->perplexity : s.accuracy->accuracy;
}

std::optional<double> percent_of(double value, double reference) {
  if (!(reference > 0) || !std::isfinite(reference)) return std::nullopt;
  return 100.0 * value / reference;
}

// An evaluation's input, read and checked before any model is loaded.
struct EvaluationInput {
  std::string text;         // perplexity
  std::vector<Task> tasks;  // accuracy
};

EvaluationInput read_input(const Evaluation& evaluation, std::size_t limit,
                           const ComparisonProgress& progress) {
  EvaluationInput input;
  if (evaluation.metric == Metric::kPerplexity) {
    input.text = read_small_file(evaluation.data, kMaxTextBytes);
    if (input.text.empty())
      throw Error(ErrorKind::kUsage, "the text file is empty", ErrorContext{evaluation.data, {}, {}});
    return input;
  }
  std::vector<std::string> ignored;
  input.tasks = read_tasks_jsonl(evaluation.data, limit, &ignored);
  if (!ignored.empty() && progress.note) {
    std::string names;
    for (const std::string& name : ignored) names += (names.empty() ? "'" : ", '") + name + "'";
    progress.note(evaluation.data + ": ignoring fields " + names);
  }
  return input;
}

nlohmann::json record_of(const ModelScore& score) {
  nlohmann::json record;
  record["model"] = score.model;
  record["reference"] = score.reference;
  if (score.perplexity) {
    const PerplexityResult& r = *score.perplexity;
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
    const AccuracyResult& r = *score.accuracy;
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
  record["percent_of_reference"] =
      score.percent_of_reference ? nlohmann::json(*score.percent_of_reference) : nlohmann::json(nullptr);
  return record;
}

nlohmann::json evaluation_json(const EvaluationScores& scores, const std::string& reference) {
  nlohmann::json out;
  out["metric"] = metric_name(scores.evaluation.metric);
  out["data"] = scores.evaluation.data;
  out["reference"] = reference;
  nlohmann::json records = nlohmann::json::array();
  for (const ModelScore& score : scores.models) records.push_back(record_of(score));
  out["models"] = std::move(records);
  return out;
}

}  // namespace

std::string metric_name(Metric metric) { return metric == Metric::kPerplexity ? "perplexity" : "accuracy"; }

std::optional<Metric> metric_from_name(std::string_view name) {
  if (name == "perplexity") return Metric::kPerplexity;
  if (name == "accuracy") return Metric::kAccuracy;
  return std::nullopt;
}

ModelComparison compare_models(const ComparisonOptions& options, const ComparisonProgress& progress) {
  if (options.models.empty() && options.reference.empty())
    throw Error(ErrorKind::kUsage, "no model to evaluate", ErrorContext{{}, {}, "models"});
  if (options.evaluations.empty())
    throw Error(ErrorKind::kUsage, "no evaluation to run", ErrorContext{{}, {}, "evaluations"});

  // The reference is evaluated first and listed first.
  std::vector<std::string> models;
  if (!options.reference.empty()) models.push_back(options.reference);
  for (const std::string& model : options.models) {
    if (!options.reference.empty() && same_directory(model, options.reference)) continue;
    models.push_back(model);
  }

  std::vector<EvaluationInput> inputs;
  for (const Evaluation& evaluation : options.evaluations)
    inputs.push_back(read_input(evaluation, options.limit, progress));

  // Models may be Hub ids or object store locations: found (or fetched) once.
  // Every model's tokenizer is read before the first one is evaluated (it is
  // cheap), so that a missing or foreign model fails before any progress.
  std::vector<std::filesystem::path> paths;
  for (const std::string& name : models) {
    paths.push_back(resolve_location(name).path);
    Tokenizer::from_model_dir(paths.back());
  }

  ModelComparison comparison;
  comparison.reference = models.front();
  for (const Evaluation& evaluation : options.evaluations) comparison.evaluations.push_back({evaluation, {}});

  for (std::size_t i = 0; i < models.size(); ++i) {
    const std::string& name = models[i];
    stop_if_cancelled(options);
    if (progress.model_started) progress.model_started(i + 1, models.size(), name);
    const Tokenizer tokenizer = Tokenizer::from_model_dir(paths[i]);
    const Model model = Model::load(paths[i]);
    if (progress.note) {
      for (const std::string& note : model.notes()) progress.note(name + ": " + note);
    }
    const StepProgress step = [&](std::size_t done, std::size_t total) {
      if (progress.step) progress.step(done, total);
      stop_if_cancelled(options);
    };
    for (std::size_t e = 0; e < options.evaluations.size(); ++e) {
      stop_if_cancelled(options);
      if (progress.evaluation_started)
        progress.evaluation_started(e + 1, options.evaluations.size(), options.evaluations[e]);
      ModelScore score;
      score.model = name;
      score.reference = i == 0;
      if (options.evaluations[e].metric == Metric::kPerplexity) {
        score.perplexity =
            perplexity_of_text(model, tokenizer, inputs[e].text, options.perplexity, options.limit, step);
      } else {
        AccuracyOptions accuracy = options.accuracy;
        accuracy.cancel = options.cancel;  // also between the decoding steps of a batch
        score.accuracy = evaluate_accuracy(model, tokenizer, inputs[e].tasks, accuracy, step);
      }
      comparison.evaluations[e].models.push_back(std::move(score));
    }
  }

  for (EvaluationScores& scores : comparison.evaluations) {
    const double reference = score_of(scores.models.front());
    for (ModelScore& score : scores.models)
      score.percent_of_reference = percent_of(score_of(score), reference);
  }
  return comparison;
}

std::string to_json(const ModelComparison& comparison) {
  if (comparison.evaluations.size() == 1)
    return evaluation_json(comparison.evaluations.front(), comparison.reference).dump(2);
  nlohmann::json out;
  out["reference"] = comparison.reference;
  nlohmann::json evaluations = nlohmann::json::array();
  for (const EvaluationScores& scores : comparison.evaluations)
    evaluations.push_back(evaluation_json(scores, comparison.reference));
  out["evaluations"] = std::move(evaluations);
  return out.dump(2);
}

}  // namespace paramdelta
