// One function per command: the options as keyword arguments (the pure-Python
// layer gives them the command line's defaults), the result as the same JSON
// the command prints with --json.
#include "paramdelta/operations.h"

#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <optional>
#include <string>
#include <vector>

#include "background_run.h"
#include "bindings.h"
#include "paramdelta/error.h"
#include "paramdelta/option_values.h"

namespace nb = nanobind;
using namespace nb::literals;

namespace paramdelta::python {

namespace {

std::optional<DType> dtype_option(const std::optional<std::string>& name, const char* field) {
  if (!name) return std::nullopt;
  return parse_float_dtype(*name, field);
}

RunOptions run_options(int threads, bool force, std::uint64_t max_shard_size) {
  if (threads < 0 || threads > 256) {
    throw Error(ErrorKind::kUsage,
                option_ref("threads") + " " + std::to_string(threads) + " is not a thread count",
                ErrorContext{}, "use 0 (one per CPU) to 256");
  }
  if (max_shard_size == 0) {
    throw Error(ErrorKind::kUsage, option_ref("max_shard_size") + " is 0: a shard cannot be empty");
  }
  RunOptions run;
  run.threads = threads;
  run.force = force;
  run.max_shard_size = max_shard_size;
  return run;
}

// Runs an operation off the calling thread with the caller's progress and
// cancellation wired into its RunOptions.
template <class Options, class Operation>
auto run_operation(Options options, const nb::object& progress, Operation operation) {
  decltype(operation(options)) result;
  run_in_background(progress, [&](const std::atomic<bool>* cancel, ProgressSink* sink) {
    options.run.cancel = cancel;
    options.run.progress = sink;
    result = operation(options);
  });
  return result;
}

}  // namespace

void bind_operations(nb::module_& m) {
  // Option values as the command line reads them (paramdelta/option_values.h).
  m.def(
      "parse_byte_size",
      [](const std::string& text, const std::string& field) { return parse_byte_size(text, field); },
      "text"_a, "field"_a);
  m.def(
      "parse_float_dtype",
      [](const std::string& text, const std::string& field) -> std::optional<std::string> {
        const auto dtype = parse_float_dtype(text, field);
        if (!dtype) return std::nullopt;
        return std::string(dtype_name(*dtype));
      },
      "text"_a, "field"_a);

  m.def(
      "compute",
      [](std::string base, std::string post, std::string output, std::optional<std::string> delta_dtype,
         std::string vocab_mismatch, bool allow_non_finite, bool allow_architecture_mismatch, int threads,
         bool force, std::uint64_t max_shard_size, nb::object progress) {
        ComputeOptions o;
        o.base = std::move(base);
        o.post = std::move(post);
        o.output = output;
        o.delta_dtype = dtype_option(delta_dtype, "delta_dtype");
        o.vocab_mismatch = parse_vocab_mismatch(vocab_mismatch);
        o.allow_non_finite = allow_non_finite;
        o.allow_architecture_mismatch = allow_architecture_mismatch;
        o.run = run_options(threads, force, max_shard_size);
        return to_json(run_operation(o, progress, [](const ComputeOptions& x) { return compute_delta(x); }));
      },
      "base"_a, "post"_a, "output"_a, "delta_dtype"_a.none(), "vocab_mismatch"_a, "allow_non_finite"_a,
      "allow_architecture_mismatch"_a, "threads"_a, "force"_a, "max_shard_size"_a, "progress"_a.none());

  m.def(
      "apply",
      [](std::string base, std::string delta, std::string output, double scale,
         std::optional<std::string> dtype, std::string vocab_mismatch, bool allow_non_finite,
         bool allow_architecture_mismatch, int threads, bool force, std::uint64_t max_shard_size,
         nb::object progress) {
        ApplyOptions o;
        o.base = std::move(base);
        o.delta = std::move(delta);
        o.output = output;
        o.scale = scale;
        o.dtype = dtype_option(dtype, "dtype");
        o.vocab_mismatch = parse_vocab_mismatch(vocab_mismatch);
        o.allow_non_finite = allow_non_finite;
        o.allow_architecture_mismatch = allow_architecture_mismatch;
        o.run = run_options(threads, force, max_shard_size);
        return to_json(run_operation(o, progress, [](const ApplyOptions& x) { return apply_delta(x); }));
      },
      "base"_a, "delta"_a, "output"_a, "scale"_a, "dtype"_a.none(), "vocab_mismatch"_a, "allow_non_finite"_a,
      "allow_architecture_mismatch"_a, "threads"_a, "force"_a, "max_shard_size"_a, "progress"_a.none());

  m.def(
      "combine",
      [](std::vector<std::string> deltas, std::string output, std::vector<double> weights, std::string method,
         double density, std::optional<std::uint64_t> seed, std::optional<std::string> delta_dtype,
         int threads, bool force, std::uint64_t max_shard_size, nb::object progress) {
        CombineOptions o;
        o.deltas = std::move(deltas);
        o.output = output;
        o.weights = std::move(weights);
        o.method = parse_combine_method_option(method);
        if (seed && o.method != CombineMethod::kDare && o.method != CombineMethod::kDareTies) {
          throw Error(ErrorKind::kUsage,
                      option_ref("seed") + " applies to the dare and dare-ties methods only");
        }
        o.seed = seed.value_or(0);
        o.density = density;
        o.delta_dtype = dtype_option(delta_dtype, "delta_dtype");
        o.run = run_options(threads, force, max_shard_size);
        return to_json(run_operation(o, progress, [](const CombineOptions& x) { return combine_deltas(x); }));
      },
      "deltas"_a, "output"_a, "weights"_a, "method"_a, "density"_a, "seed"_a.none(), "delta_dtype"_a.none(),
      "threads"_a, "force"_a, "max_shard_size"_a, "progress"_a.none());

  m.def(
      "verify",
      [](std::string base, std::string delta, std::string expect, double scale, int threads,
         nb::object progress) {
        VerifyOptions o;
        o.base = std::move(base);
        o.delta = std::move(delta);
        o.expect = std::move(expect);
        o.scale = scale;
        o.run = run_options(threads, false, RunOptions{}.max_shard_size);
        return to_json(run_operation(o, progress, [](const VerifyOptions& x) { return verify_delta(x); }));
      },
      "base"_a, "delta"_a, "expect"_a, "scale"_a, "threads"_a, "progress"_a.none());

  m.def(
      "analyze",
      [](std::string delta, std::string base, std::string new_base, std::string other_delta, std::string html,
         bool force, int threads, nb::object progress) {
        AnalyzeOptions o;
        o.delta = std::move(delta);
        o.base = std::move(base);
        o.new_base = std::move(new_base);
        o.other_delta = std::move(other_delta);
        o.html = html;
        o.run = run_options(threads, force, RunOptions{}.max_shard_size);
        return to_json(run_operation(o, progress, [](const AnalyzeOptions& x) { return analyze_delta(x); }));
      },
      "delta"_a, "base"_a, "new_base"_a, "other_delta"_a, "html"_a, "force"_a, "threads"_a,
      "progress"_a.none());

  m.def(
      "copy",
      [](std::string source, std::string destination, bool force, nb::object progress) {
        CopyOptions o;
        o.source = std::move(source);
        o.destination = destination;
        o.run = run_options(0, force, RunOptions{}.max_shard_size);
        return to_json(run_operation(o, progress, [](const CopyOptions& x) { return copy(x); }));
      },
      "source"_a, "destination"_a, "force"_a, "progress"_a.none());

  m.def(
      "inspect",
      [](std::string path) {
        InspectReport report;
        run_in_background(nb::none(),
                          [&](const std::atomic<bool>*, ProgressSink*) { report = inspect(path); });
        return to_json(report);
      },
      "path"_a);
}

}  // namespace paramdelta::python
