// paramdelta eval as one function: the same options and defaults as the
// command (the pure-Python layer checks their values), the result as the
// JSON the command prints with --json, and the notes it prints on stderr.
#include "paramdelta/evaluate.h"

#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "background_run.h"
#include "bindings.h"
#include "paramdelta/error.h"
#include "paramdelta/model.h"

namespace nb = nanobind;
using namespace nb::literals;

namespace paramdelta::python {

namespace {

std::vector<Evaluation> evaluations_of(const std::vector<std::string>& metrics,
                                       const std::vector<std::string>& data) {
  if (metrics.size() != data.size()) {
    throw Error(ErrorKind::kUsage,
                std::to_string(metrics.size()) + " metric(s) but " + std::to_string(data.size()) +
                    " data file(s) given",
                ErrorContext{{}, {}, "data"}, "give one data file per metric, in the same order");
  }
  std::vector<Evaluation> out;
  for (std::size_t i = 0; i < metrics.size(); ++i) {
    const std::optional<Metric> metric = metric_from_name(metrics[i]);
    if (!metric) {
      throw Error(ErrorKind::kUsage, "unknown metric '" + metrics[i] + "'", ErrorContext{{}, {}, "metric"},
                  "use perplexity or accuracy");
    }
    out.push_back({*metric, data[i]});
  }
  return out;
}

// Progress of a comparison as the steps of the current model's current
// evaluation (windows or tasks), named after the model and the evaluation.
class ComparisonSteps {
 public:
  explicit ComparisonSteps(ProgressSink* sink) : sink_(sink) {}

  ComparisonProgress callbacks(std::vector<std::string>* notes) {
    ComparisonProgress progress;
    progress.note = [notes](const std::string& note) { notes->push_back(note); };
    if (sink_ == nullptr) return progress;
    progress.model_started = [this](std::size_t index, std::size_t count, const std::string& model) {
      model_ = model + " (" + std::to_string(index) + "/" + std::to_string(count) + ")";
    };
    progress.evaluation_started = [this](std::size_t, std::size_t, const Evaluation& evaluation) {
      operation_ = "evaluate " + model_ + ": " + metric_name(evaluation.metric) + " on " + evaluation.data;
      started_ = false;
    };
    progress.step = [this](std::size_t done, std::size_t total) {
      if (!started_) {
        sink_->begin(operation_, total);
        started_ = true;
        done_ = 0;
      }
      if (done > done_) sink_->advance(done - done_);
      done_ = done;
    };
    return progress;
  }

 private:
  ProgressSink* sink_;
  std::string model_;
  std::string operation_;
  bool started_ = false;
  std::size_t done_ = 0;
};

// The BLAS's thread count is the process's: a call's `threads` holds for
// that call only, and 0 is the BLAS's own setting as the module found it (the
// program's default), whatever an earlier call chose.
class ComputeThreads {
 public:
  explicit ComputeThreads(int threads) : before_(compute_threads()) { set_compute_threads(threads); }
  ~ComputeThreads() { set_compute_threads(before_); }
  ComputeThreads(const ComputeThreads&) = delete;
  ComputeThreads& operator=(const ComputeThreads&) = delete;

 private:
  int before_;
};

}  // namespace

void bind_evaluate(nb::module_& m) {
  static const int blas_default_threads = compute_threads();
  m.def(
      "evaluate",
      [](std::vector<std::string> models, std::vector<std::string> data, std::vector<std::string> metrics,
         std::string reference, std::size_t context, std::size_t stride, std::size_t max_new_tokens,
         std::size_t batch, std::vector<std::string> stop, bool chat_template, int threads, std::size_t limit,
         nb::object progress) {
        ComparisonOptions options;
        options.models = std::move(models);
        options.reference = std::move(reference);
        options.evaluations = evaluations_of(metrics, data);
        options.perplexity.context = context;
        options.perplexity.stride = stride;
        options.accuracy.context = context;
        options.accuracy.max_new_tokens = max_new_tokens;
        options.accuracy.batch_size = batch;
        options.accuracy.stop_strings = std::move(stop);
        options.accuracy.chat_template = chat_template;
        options.limit = limit;
        std::vector<std::string> notes;
        ModelComparison comparison;
        run_in_background(progress, [&](const std::atomic<bool>* cancel, ProgressSink* sink) {
          const ComputeThreads scoped(threads > 0 ? threads : blas_default_threads);
          options.cancel = cancel;
          ComparisonSteps steps(sink);
          comparison = compare_models(options, steps.callbacks(&notes));
        });
        return std::make_pair(to_json(comparison), notes);
      },
      "models"_a, "data"_a, "metrics"_a, "reference"_a, "context"_a, "stride"_a, "max_new_tokens"_a,
      "batch"_a, "stop"_a, "chat_template"_a, "threads"_a, "limit"_a, "progress"_a.none());
}

}  // namespace paramdelta::python
