// apply: Θ'post = Θ'base + s·Δ, streamed tensor by tensor; and verify, which
// runs the same computation and compares it with an expected model.
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "delta/apply_chunk.h"
#include "delta/apply_plan.h"
#include "delta/model_files.h"
#include "delta/model_identity.h"
#include "delta/operation_support.h"
#include "delta/tensor_output.h"
#include "engine/convert.h"
#include "engine/job_runner.h"
#include "engine/tensor_hash.h"
#include "io/file_ops.h"
#include "io/json_strict.h"
#include "io/quantization.h"
#include "paramdelta/error.h"
#include "paramdelta/location.h"
#include "paramdelta/operations.h"

namespace paramdelta {

namespace fs = std::filesystem;

namespace {

const std::byte* in_base_data(const Checkpoint& base, const ApplyItem& item) {
  return base.data(*item.base).data();
}

void check_scale(double scale) {
  if (!std::isfinite(scale)) throw Error(ErrorKind::kUsage, option_ref("scale") + " must be a finite number");
}

void check_result_finite(const ApplyItem& item, const std::byte* out, std::uint64_t begin, std::size_t n) {
  auto nf = engine::find_non_finite(out, item.out_dtype, n, "result");
  if (nf.found) {
    throw Error(ErrorKind::kNonFinite,
                "element " + std::to_string(begin + nf.index) +
                    " of the result is NaN or infinite (overflow in " +
                    std::string(dtype_name(item.out_dtype)) + "?)",
                ErrorContext{{}, item.name, {}},
                "lower " + option_ref("scale") + ", choose a wider " + option_ref("dtype") + ", or pass " +
                    option_ref("allow_non_finite", "true"));
  }
}

// The output's config.json: the new base's, adjusted to what was written.
std::string output_config(const Checkpoint& base, const ApplyPlan& plan, const std::optional<DType>& dtype,
                          std::vector<std::string>& notes) {
  auto text = base.read_text_file(kConfigFile);
  const std::string label = (base.root() / kConfigFile).string();
  nlohmann::ordered_json config = parse_json_strict_ordered(*text, label);
  if (!config.is_object()) throw_invalid(label, "config must be a JSON object");
  if (plan.vocab_rows && config.contains("vocab_size")) {
    config["vocab_size"] = *plan.vocab_rows;
    notes.push_back("config.json: vocab_size set to " + std::to_string(*plan.vocab_rows));
  }
  if (plan.untied_head && config.value("tie_word_embeddings", false)) {
    config["tie_word_embeddings"] = false;
    notes.push_back("config.json: tie_word_embeddings set to false");
  }
  if (dtype) {
    const char* name = *dtype == DType::kBF16 ? "bfloat16" : *dtype == DType::kF16 ? "float16" : "float32";
    if (config.contains("torch_dtype")) config["torch_dtype"] = name;
    if (config.contains("dtype")) config["dtype"] = name;
  }
  return config.dump(2) + "\n";
}

// The non-weight files of the output model besides config.json: where each
// comes from, and its name in the output.
struct CarriedFile {
  fs::path from;
  std::string name;
};

std::vector<CarriedFile> files_to_carry(const Checkpoint& base, const DeltaSource& delta,
                                        std::vector<std::string>& notes) {
  std::vector<CarriedFile> files;
  // Tokenizer and chat files travel as a set: the delta's (the post model's) if
  // it carries any, else the new base's.
  const bool from_delta = delta.is_directory() && !present_tokenizer_files(delta.path()).empty();
  const fs::path source = from_delta ? delta.path() : base.root();
  if (!base.is_single_file() || from_delta) {
    for (const auto& name : present_tokenizer_files(source)) files.push_back({source / name, name});
  }
  notes.push_back(std::string("tokenizer and chat files taken from the ") +
                  (from_delta ? "delta" : "new base"));
  std::error_code ec;
  if (delta.is_directory() && fs::is_regular_file(delta.path() / kGenerationConfigFile, ec)) {
    files.push_back({delta.path() / kGenerationConfigFile, kGenerationConfigFile});
  } else if (base.has_file(kGenerationConfigFile)) {
    files.push_back({base.root() / kGenerationConfigFile, kGenerationConfigFile});
  }
  return files;
}

// The architecture of the model a delta was computed from: recorded in its
// manifest, or for a delta written before that, its post model's config
// (post_config.json), the best evidence left. Also says where it came from.
std::optional<std::pair<ModelIdentity, std::string>> delta_base_identity(const DeltaSource& delta) {
  if (!delta.manifest().base_identity.empty()) {
    return std::pair{delta.manifest().base_identity,
                     "the delta " + delta.path().string() + " was computed from"};
  }
  if (!delta.is_directory()) return std::nullopt;
  if (auto post = read_model_identity(delta.tensors(), kPostConfigFile)) {
    return std::pair{*post, "the delta's post model (" + (delta.path() / kPostConfigFile).string() + ") is"};
  }
  return std::nullopt;
}

void check_architectures(const Checkpoint& base, const DeltaSource& delta, bool allow,
                         std::vector<std::string>& notes) {
  const std::optional<ModelIdentity> new_base = read_model_identity(base);
  const auto recorded = delta_base_identity(delta);
  if (!new_base || !recorded || !architectures_differ(recorded->first, *new_base)) return;
  const std::string both = recorded->second + " " + recorded->first.describe() + ", the new base (" +
                           (base.root() / kConfigFile).string() + ") is " + new_base->describe();
  if (!allow) {
    throw Error(ErrorKind::kMismatch, "different architectures: " + both, ErrorContext{},
                "a delta does not carry over to another network; if they are the same network under two "
                "names, pass " +
                    option_ref("allow_architecture_mismatch", "true"));
  }
  notes.push_back("different architectures, allowed by " + option_ref("allow_architecture_mismatch", "true") +
                  ": " + both);
}

}  // namespace

OperationSummary apply_delta(const ApplyOptions& options) {
  Stopwatch clock;
  check_scale(options.scale);
  if (options.dtype && !is_floating(*options.dtype))
    throw Error(ErrorKind::kUsage, option_ref("dtype") + " must be a floating-point type");
  OperationSummary summary;
  summary.operation = "apply";
  summary.output = options.output.string();
  const bool single_file = is_single_file_output(options.output);
  StagedOutput staged(options.output,
                      single_file ? StagedOutput::Kind::kFile : StagedOutput::Kind::kDirectory,
                      options.run.force);

  const ResolvedLocation base_loc = resolve_location(options.base);
  const ResolvedLocation delta_loc = resolve_location(options.delta);
  const Checkpoint base = Checkpoint::open(base_loc.path);
  const DeltaSource delta = DeltaSource::open(delta_loc.path);
  refuse_quantized(base);
  refuse_quantized(delta.tensors(), kPostConfigFile);
  check_architectures(base, delta, options.allow_architecture_mismatch, summary.notes);
  for (const auto& w : base.warnings()) summary.notes.push_back(w);
  const bool allow_non_finite = options.allow_non_finite || delta.manifest().allow_non_finite;

  ApplyPlan plan = plan_apply(base, delta, options.vocab_mismatch, [&](const std::string&, DType d) {
    return options.dtype ? *options.dtype : d;
  });
  for (auto& n : plan.notes) summary.notes.push_back(n);

  // The output's config and the files copied into it are read and checked
  // before any weight is written.
  std::optional<std::string> config_text;
  std::vector<CarriedFile> carried;
  if (!single_file) {
    if (base.has_file(kConfigFile)) {
      config_text = output_config(base, plan, options.dtype, summary.notes);
    } else {
      summary.notes.push_back("the new base has no config.json: none written");
    }
    carried = files_to_carry(base, delta, summary.notes);
    std::vector<fs::path> paths;
    for (const auto& file : carried) paths.push_back(file.from);
    check_carried_json_files(paths);
  }

  std::vector<TensorSpec> specs;
  for (const auto& item : plan.items) specs.push_back({item.name, item.out_dtype, item.shape});
  TensorOutput output(staged.staging_path(), single_file, "model", specs, options.run.max_shard_size,
                      Metadata{{"format", "pt"}}, 0, false);

  engine::ThreadPool pool(options.run.threads);
  summary.threads = pool.size();
  const ApplyInputs inputs{&base, &delta, options.scale};
  std::vector<ExceptionList> exceptions(plan.items.size());
  std::vector<std::vector<std::byte>> scratch(static_cast<std::size_t>(pool.size()));
  std::vector<engine::Job> jobs;
  for (std::size_t k = 0; k < plan.items.size(); ++k) {
    const ApplyItem& item = plan.items[k];
    engine::Job job;
    job.elements = 1;
    for (auto d : item.shape) job.elements *= d;
    job.bytes_per_element = dtype_size(item.out_dtype) +
                            (item.base ? dtype_size(item.base->info->dtype) : 0) +
                            (item.delta ? dtype_size(item.delta->info->dtype) : 0);
    job.prepare = [&, k](std::size_t) {
      const ApplyItem& it = plan.items[k];
      if (it.source == ApplyItem::Source::kDelta) exceptions[k] = delta.exceptions(*it.entry);
    };
    job.run_chunk = [&, k](std::size_t, std::uint64_t begin, std::uint64_t end, int worker) {
      const ApplyItem& it = plan.items[k];
      const std::size_t os = dtype_size(it.out_dtype);
      auto& buf = scratch[static_cast<std::size_t>(worker)];
      buf.resize(static_cast<std::size_t>(end - begin) * os);
      const bool special = produce_apply_range(inputs, it, exceptions[k], begin, end, buf.data());
      if (special && !allow_non_finite && it.source == ApplyItem::Source::kDelta) {
        check_result_finite(it, buf.data(), begin, static_cast<std::size_t>(end - begin));
      }
      output.write_at(k, begin * os, buf);
    };
    job.release = [&, k](std::uint64_t begin, std::uint64_t end) {
      release_apply_range(inputs, plan.items[k], begin, end);
    };
    job.finalize = [&, k]() {
      const ApplyItem& it = plan.items[k];
      summary.elements += it.base ? it.base->info->numel() : 0;
      summary.bytes_read +=
          (it.base ? it.base->info->nbytes() : 0) + (it.delta ? it.delta->info->nbytes() : 0);
      if (it.source == ApplyItem::Source::kDelta) delta.release_exceptions(*it.entry);
      exceptions[k] = ExceptionList{};
    };
    jobs.push_back(std::move(job));
  }
  run_operation_jobs(pool, jobs, options.run, "apply");

  output.finish(std::nullopt);
  if (!single_file) {
    const fs::path dir = staged.staging_path();
    if (config_text) write_file_atomically(dir / kConfigFile, *config_text);
    for (const auto& file : carried) copy_file_atomically(file.from, dir / file.name);
  }
  staged.commit();

  summary.tensors = plan.items.size();
  summary.bytes_written = output.bytes_written();
  summary.seconds = clock.seconds();
  return summary;
}

VerifyReport verify_delta(const VerifyOptions& options) {
  Stopwatch clock;
  check_scale(options.scale);
  VerifyReport report;
  report.summary.operation = "verify";
  const ResolvedLocation base_loc = resolve_location(options.base);
  const ResolvedLocation delta_loc = resolve_location(options.delta);
  const ResolvedLocation expect_loc = resolve_location(options.expect);
  const Checkpoint base = Checkpoint::open(base_loc.path);
  const DeltaSource delta = DeltaSource::open(delta_loc.path);
  const Checkpoint expect = Checkpoint::open(expect_loc.path);
  refuse_quantized(base);
  refuse_quantized(delta.tensors(), kPostConfigFile);
  refuse_quantized(expect);

  // Each tensor is produced in the dtype the expected model stores it in.
  ApplyPlan plan = plan_apply(base, delta, VocabMismatch::kOverlap, [&](const std::string& name, DType d) {
    const TensorRef* e = expect.find(name);
    return e && is_floating(e->info->dtype) ? e->info->dtype : d;
  });
  for (auto& n : plan.notes) report.summary.notes.push_back(n);

  engine::ThreadPool pool(options.run.threads);
  report.summary.threads = pool.size();
  const ApplyInputs inputs{&base, &delta, options.scale};
  report.tensors.resize(plan.items.size());
  std::vector<const TensorRef*> expected(plan.items.size(), nullptr);
  std::vector<ExceptionList> exceptions(plan.items.size());
  std::vector<std::vector<std::uint64_t>> differing(plan.items.size());
  std::vector<std::vector<double>> max_diff(plan.items.size());
  std::vector<std::vector<std::uint64_t>> base_hashes(plan.items.size());
  std::vector<std::vector<std::byte>> scratch(static_cast<std::size_t>(pool.size()));
  bool base_matches = true, base_hashed = false;
  std::vector<engine::Job> jobs;
  for (std::size_t k = 0; k < plan.items.size(); ++k) {
    const ApplyItem& item = plan.items[k];
    auto& tv = report.tensors[k];
    tv.name = item.name;
    std::uint64_t elements = 1;
    for (auto d : item.shape) elements *= d;
    tv.elements = elements;
    const TensorRef* e = expect.find(item.name);
    if (e == nullptr) {
      tv.note = "not in the expected model";
      continue;
    }
    if (e->info->shape != item.shape || e->info->dtype != item.out_dtype) {
      tv.note = "expected " + std::string(dtype_name(e->info->dtype)) + " " + shape_string(e->info->shape) +
                ", produced " + std::string(dtype_name(item.out_dtype)) + " " + shape_string(item.shape);
      tv.differing = elements;
      continue;
    }
    expected[k] = e;
    const bool hash_base = item.source == ApplyItem::Source::kDelta && !item.entry->base_checksum.empty() &&
                           item.base->info->shape == item.entry->base_shape;
    base_hashed |= hash_base;
    engine::Job job;
    job.elements = elements;
    job.bytes_per_element = 2 * dtype_size(item.out_dtype);
    job.prepare = [&, k, hash_base](std::size_t chunks) {
      const ApplyItem& it = plan.items[k];
      if (it.source == ApplyItem::Source::kDelta) exceptions[k] = delta.exceptions(*it.entry);
      differing[k].assign(chunks, 0);
      max_diff[k].assign(chunks, 0.0);
      base_hashes[k].assign(hash_base ? chunks : 0, 0);
    };
    job.run_chunk = [&, k, hash_base](std::size_t chunk, std::uint64_t begin, std::uint64_t end, int worker) {
      const ApplyItem& it = plan.items[k];
      const std::size_t os = dtype_size(it.out_dtype);
      const std::size_t n = static_cast<std::size_t>(end - begin);
      auto& buf = scratch[static_cast<std::size_t>(worker)];
      buf.resize(n * os);
      produce_apply_range(inputs, it, exceptions[k], begin, end, buf.data());
      const PinnedRange want_pin = expect.pin_elements(*expected[k], begin, end);
      const std::byte* want = expect.data(*expected[k]).data() + begin * os;
      std::uint64_t count = 0;
      double worst = 0;
      for (std::size_t i = 0; i < n; ++i) {
        if (std::memcmp(buf.data() + i * os, want + i * os, os) != 0) {
          ++count;
          const double a =
              engine::bits_to_f64(engine::element_bits(buf.data(), it.out_dtype, i), it.out_dtype);
          const double b = engine::bits_to_f64(engine::element_bits(want, it.out_dtype, i), it.out_dtype);
          const double diff = std::fabs(a - b);
          worst = std::isnan(diff) ? INFINITY : std::max(worst, diff);
        }
      }
      differing[k][chunk] = count;
      max_diff[k][chunk] = worst;
      if (hash_base) {
        const std::size_t bs = dtype_size(it.base->info->dtype);
        const PinnedRange base_pin = base.pin_elements(*it.base, begin, end);
        base_hashes[k][chunk] = engine::hash_block({in_base_data(base, it) + begin * bs, n * bs});
      }
    };
    job.release = [&, k](std::uint64_t begin, std::uint64_t end) {
      release_apply_range(inputs, plan.items[k], begin, end);
      expect.release_elements(*expected[k], begin, end);
    };
    job.finalize = [&, k, hash_base]() {
      auto& t = report.tensors[k];
      for (auto c : differing[k]) t.differing += c;
      for (auto w : max_diff[k]) t.max_abs_difference = std::max(t.max_abs_difference, w);
      if (hash_base) {
        base_matches &= engine::hash_to_hex(engine::combine_block_hashes(base_hashes[k])) ==
                        plan.items[k].entry->base_checksum;
      }
      if (plan.items[k].source == ApplyItem::Source::kDelta) delta.release_exceptions(*plan.items[k].entry);
      exceptions[k] = ExceptionList{};
      differing[k] = {};
      max_diff[k] = {};
      base_hashes[k] = {};
    };
    jobs.push_back(std::move(job));
  }
  run_operation_jobs(pool, jobs, options.run, "verify");

  for (const auto& e : expect.tensors()) {
    bool produced = false;
    for (const auto& item : plan.items) produced |= item.name == e.name();
    if (!produced) {
      TensorVerification tv;
      tv.name = e.name();
      tv.elements = e.info->numel();
      tv.differing = tv.elements;
      tv.note = "in the expected model but not produced";
      report.tensors.push_back(tv);
    }
  }
  for (const auto& t : report.tensors) {
    report.total_elements += t.elements;
    report.total_differing += t.differing;
    if (!t.note.empty() && t.note == "not in the expected model")
      report.summary.notes.push_back("'" + t.name + "': " + t.note);
  }
  if (base_hashed) report.base_matches_manifest = base_matches;
  report.summary.tensors = plan.items.size();
  report.summary.elements = report.total_elements;
  report.summary.seconds = clock.seconds();
  return report;
}

}  // namespace paramdelta
