// combine: Δ = Σ wᵢ·Δᵢ (multi-delta fusion; with unit weights, chaining of
// updates), or a TIES / DARE merge (delta/merge_methods.h). The sum of
// rounded values is itself rounded, so a combined delta is recorded as lossy
// ("plain" encoding); --delta-dtype F32 keeps more digits.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <set>

#include "delta/delta_source.h"
#include "delta/manifest.h"
#include "delta/merge_methods.h"
#include "delta/model_files.h"
#include "delta/operation_support.h"
#include "delta/tensor_output.h"
#include "engine/convert.h"
#include "engine/delta_kernels.h"
#include "engine/job_runner.h"
#include "engine/tensor_hash.h"
#include "io/file_ops.h"
#include "io/quantization.h"
#include "paramdelta/error.h"
#include "paramdelta/location.h"
#include "paramdelta/operations.h"

namespace paramdelta {

namespace fs = std::filesystem;

namespace {

std::string format_number(double value);

// What a compact dtype can do about a value beyond its range.
std::string overflow_hint(DType dtype) {
  return dtype == DType::kF32 || dtype == DType::kF64
             ? "check the weights and the input deltas"
             : "write the combined delta with " + option_ref("delta_dtype", "f32") + ", or lower the weights";
}

// A sum or a merge can overflow the output dtype even when every input is
// finite; `range` is the dtype whose range the value went beyond (the sum
// accumulates in F32).
void check_finite_result(const std::vector<std::byte>& values, const ManifestTensor& tensor,
                         std::uint64_t begin, std::size_t n, const std::vector<DeltaSource>& deltas,
                         const std::vector<ExceptionList>& exceptions, DType range) {
  const auto nf = engine::find_non_finite(values.data(), tensor.dtype, n, "result");
  if (!nf.found) return;
  const std::uint64_t index = begin + nf.index;
  for (std::size_t i = 0; i < deltas.size(); ++i) {
    double input = 0;
    read_delta_values(deltas[i], *deltas[i].tensors().find(tensor.name), exceptions[i], index, index + 1,
                      &input);
    if (!std::isfinite(input)) {
      throw Error(ErrorKind::kNonFinite,
                  "element " + std::to_string(index) + " of the combined delta is not finite",
                  ErrorContext{{}, tensor.name, {}}, "check the weights and the input deltas");
    }
  }
  throw Error(
      ErrorKind::kNonFinite,
      "element " + std::to_string(index) + ": the combined value overflows " + std::string(dtype_name(range)),
      ErrorContext{{}, tensor.name, {}}, overflow_hint(range));
}

// A full value that the combined delta's dtype cannot hold.
void check_full_value_range(const std::vector<std::byte>& values, const ManifestTensor& tensor,
                            std::uint64_t begin, std::size_t n, const std::byte* input, DType input_dtype) {
  const auto overflow = engine::find_overflow(values.data(), tensor.dtype, n, input, input_dtype, nullptr,
                                              input_dtype, "result");
  if (!overflow.found) return;
  const double value =
      engine::bits_to_f64(engine::element_bits(input, input_dtype, overflow.index), input_dtype);
  throw Error(ErrorKind::kNonFinite,
              "element " + std::to_string(begin + overflow.index) + ": the full value " +
                  format_number(value) + " overflows " + std::string(dtype_name(tensor.dtype)) +
                  ", the combined delta's dtype",
              ErrorContext{{}, tensor.name, {}}, overflow_hint(tensor.dtype));
}

// 0.2 → "20%", 0.125 → "12.5%".
std::string format_percent(double fraction) {
  char text[32];
  std::snprintf(text, sizeof text, "%g%%", fraction * 100.0);
  return text;
}

std::string format_number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

}  // namespace

OperationSummary combine_deltas(const CombineOptions& options) {
  Stopwatch clock;
  OperationSummary summary;
  summary.operation = "combine";
  summary.output = options.output.string();
  if (options.deltas.size() < 2)
    throw Error(ErrorKind::kUsage, "combine needs at least two deltas (" + option_ref("deltas") + ")");
  std::vector<double> weights = options.weights;
  if (weights.empty()) weights.assign(options.deltas.size(), 1.0);
  if (weights.size() != options.deltas.size()) {
    throw Error(ErrorKind::kUsage,
                "got " + std::to_string(weights.size()) + " weights (" + option_ref("weights") + ") for " +
                    std::to_string(options.deltas.size()) + " deltas",
                ErrorContext{}, "give one weight per delta, or none for a plain sum");
  }
  for (double w : weights) {
    if (!std::isfinite(w))
      throw Error(ErrorKind::kUsage, "weights (" + option_ref("weights") + ") must be finite numbers");
  }
  const CombineMethod method = options.method;
  const std::string method_name = combine_method_name(method);
  if (method == CombineMethod::kSum) {
    if (options.density != 1.0) {
      throw Error(
          ErrorKind::kUsage, option_ref("density") + " applies to the ties, dare and dare-ties methods only",
          ErrorContext{},
          "add " + option_ref("method", "ties") + " (or dare, dare-ties), or drop " + option_ref("density"));
    }
  } else {
    if (!(options.density > 0.0 && options.density <= 1.0)) {
      throw Error(ErrorKind::kUsage,
                  option_ref("density") + " must be above 0 and at most 1 (the fraction of elements kept)");
    }
    if (method != CombineMethod::kDare) {
      for (double w : weights) {
        if (!(w > 0)) {
          throw Error(ErrorKind::kUsage,
                      "the " + method_name + " method needs positive weights (" + option_ref("weights") + ")",
                      ErrorContext{},
                      "its sign election reads a negative weight as a vote for the other sign");
        }
      }
    }
  }
  if (options.delta_dtype && !is_floating(*options.delta_dtype)) {
    throw Error(ErrorKind::kUsage, option_ref("delta_dtype") + " must be a floating-point type");
  }
  const bool single_file = is_single_file_output(options.output);
  StagedOutput staged(options.output,
                      single_file ? StagedOutput::Kind::kFile : StagedOutput::Kind::kDirectory,
                      options.run.force);

  std::vector<DeltaSource> deltas;
  for (const auto& spec : options.deltas) {
    deltas.push_back(DeltaSource::open(resolve_location(spec).path));
    refuse_quantized(deltas.back().tensors(), kPostConfigFile);
  }
  const Manifest& first = deltas.front().manifest();
  for (const auto& d : deltas) summary.notes.insert(summary.notes.end(), d.notes().begin(), d.notes().end());

  // Every delta must describe the same tensors in the same way.
  for (std::size_t i = 1; i < deltas.size(); ++i) {
    const Manifest& m = deltas[i].manifest();
    const std::string label = deltas[i].path().string();
    for (const auto& t : first.tensors) {
      const ManifestTensor* o = m.find(t.name);
      if (o == nullptr) {
        throw Error(ErrorKind::kMismatch, "present in the first delta but not in this one",
                    ErrorContext{label, t.name, {}}, "combined deltas must cover the same tensors");
      }
      if (o->shape != t.shape || o->kind != t.kind) {
        throw Error(ErrorKind::kMismatch,
                    "shape or kind differs from the first delta: " + shape_string(o->shape) + " vs " +
                        shape_string(t.shape),
                    ErrorContext{label, t.name, {}});
      }
    }
    if (m.tensors.size() != first.tensors.size()) {
      for (const auto& t : m.tensors) {
        if (first.find(t.name) == nullptr) {
          throw Error(ErrorKind::kMismatch, "present in this delta but not in the first one",
                      ErrorContext{label, t.name, {}}, "combined deltas must cover the same tensors");
        }
      }
    }
  }
  for (const auto& d : deltas) {
    for (const auto& t : d.manifest().tensors) {
      if (t.delta_rows) {
        throw Error(ErrorKind::kUsage, "combining deltas with vocabulary-overlap rows is not supported",
                    ErrorContext{d.path().string(), t.name, {}},
                    "apply the deltas one after another instead");
      }
    }
  }

  Manifest manifest;
  manifest.tool = tool_identity();
  manifest.created = utc_timestamp();
  manifest.operation = "combine";
  manifest.encoding = kEncodingPlain;
  manifest.lossless = false;
  manifest.checksum = engine::kTensorHashName;
  manifest.base_source = first.base_source;
  manifest.base_tensor_bytes = first.base_tensor_bytes;
  manifest.base_identity = first.base_identity;
  manifest.post_source = "";
  manifest.combined_from = options.deltas;
  manifest.combine_weights = weights;
  if (method != CombineMethod::kSum) {
    manifest.combine_method = method_name;
    manifest.combine_density = options.density;
    if (method != CombineMethod::kTies) manifest.combine_seed = options.seed;
  }
  // Tokenizer files of the last delta that carries any: for a chain of
  // updates that is the newest post model's. Checked before any work.
  std::vector<fs::path> carried;
  const DeltaSource* files_source = nullptr;
  for (auto it = deltas.rbegin(); it != deltas.rend() && !single_file; ++it) {
    if (!it->is_directory()) continue;
    auto names = present_tokenizer_files(it->path());
    if (names.empty()) continue;
    for (const auto& name : names) carried.push_back(it->path() / name);
    std::error_code ec;
    if (fs::is_regular_file(it->path() / kGenerationConfigFile, ec))
      carried.push_back(it->path() / kGenerationConfigFile);
    files_source = &*it;
    break;
  }
  check_carried_json_files(carried);

  std::set<std::string> removed;
  for (const auto& d : deltas)
    removed.insert(d.manifest().removed_tensors.begin(), d.manifest().removed_tensors.end());
  manifest.removed_tensors.assign(removed.begin(), removed.end());

  std::vector<TensorSpec> specs;
  for (const auto& t : first.tensors) {
    ManifestTensor e = t;
    if (t.kind != TensorKind::kCarry && options.delta_dtype) e.dtype = *options.delta_dtype;
    if (t.kind == TensorKind::kDelta && !t.base_dtype) {
      // A delta without a manifest records nothing of its base: take what
      // another input recorded, else assume the base had the delta's dtype.
      for (const auto& d : deltas) {
        const ManifestTensor* o = d.manifest().find(t.name);
        if (o != nullptr && o->base_dtype) {
          e.base_dtype = o->base_dtype;
          e.base_shape = o->base_shape;
          e.base_tensor = o->base_tensor;
          e.base_checksum = o->base_checksum;
          break;
        }
      }
      if (!e.base_dtype) e.base_dtype = t.dtype;
    }
    e.exceptions = 0;
    e.post_checksum.clear();
    e.post_dtype.reset();
    manifest.tensors.push_back(e);
    specs.push_back({e.name, e.dtype, e.shape});
  }
  const Metadata metadata{{"format", "pt"}, {"paramdelta.content", "delta"}};
  std::uint64_t reserve = 4096;
  for (const auto& t : first.tensors) reserve += 2 * t.name.size() + 700;
  TensorOutput output(staged.staging_path(), single_file, "delta", specs, options.run.max_shard_size,
                      metadata, single_file ? reserve : 0, false);

  engine::ThreadPool pool(options.run.threads);
  summary.threads = pool.size();
  const std::size_t k_inputs = deltas.size();
  std::vector<std::vector<ExceptionList>> exceptions(first.tensors.size());
  std::vector<std::vector<float>> acc(static_cast<std::size_t>(pool.size()));
  std::vector<std::vector<double>> saved(static_cast<std::size_t>(pool.size()));
  std::vector<std::vector<std::byte>> scratch(static_cast<std::size_t>(pool.size()));
  MergeMethod merge(options, weights, deltas, first.tensors.size(), pool.size());
  std::vector<engine::Job> jobs;
  std::uint64_t total_bytes = 0;
  for (std::size_t k = 0; k < first.tensors.size(); ++k) {
    const ManifestTensor& out = manifest.tensors[k];
    engine::Job job;
    job.elements = 1;
    for (auto d : out.shape) job.elements *= d;
    job.bytes_per_element = dtype_size(out.dtype) * (k_inputs + 1);
    total_bytes += job.elements * job.bytes_per_element;
    job.prepare = [&, k](std::size_t) {
      exceptions[k].clear();
      for (const auto& d : deltas)
        exceptions[k].push_back(d.exceptions(*d.manifest().find(manifest.tensors[k].name)));
      if (method != CombineMethod::kSum && manifest.tensors[k].kind == TensorKind::kDelta)
        merge.prepare(k, manifest.tensors[k], exceptions[k]);
    };
    job.run_chunk = [&, k](std::size_t, std::uint64_t begin, std::uint64_t end, int worker) {
      const ManifestTensor& t = manifest.tensors[k];
      const std::size_t n = static_cast<std::size_t>(end - begin);
      const std::size_t os = dtype_size(t.dtype);
      auto& buf = scratch[static_cast<std::size_t>(worker)];
      buf.resize(n * os);
      std::vector<PinnedRange> pins;
      pins.reserve(k_inputs);
      for (std::size_t i = 0; i < k_inputs; ++i) {
        if (const TensorRef* r = deltas[i].tensors().find(t.name))
          pins.push_back(deltas[i].tensors().pin_elements(*r, begin, end));
      }
      if (t.kind != TensorKind::kDelta) {
        // Full values and integer tensors are not summed: every delta must agree.
        const TensorRef* ref0 = deltas[0].tensors().find(t.name);
        const std::size_t s0 = dtype_size(ref0->info->dtype);
        const std::byte* v0 = deltas[0].tensors().data(*ref0).data() + begin * s0;
        for (std::size_t i = 1; i < k_inputs; ++i) {
          const TensorRef* r = deltas[i].tensors().find(t.name);
          if (r->info->dtype != ref0->info->dtype ||
              std::memcmp(deltas[i].tensors().data(*r).data() + begin * s0, v0, n * s0) != 0) {
            throw Error(ErrorKind::kMismatch,
                        "is a full-value (post-only) tensor whose value differs between deltas",
                        ErrorContext{{}, t.name, {}}, "such tensors cannot be summed");
          }
        }
        engine::convert_block(v0, ref0->info->dtype, n, buf.data(), t.dtype);
        check_full_value_range(buf, t, begin, n, v0, ref0->info->dtype);
      } else if (method != CombineMethod::kSum) {
        merge.run(k, t, exceptions[k], begin, end, worker, t.dtype, buf.data());
        check_finite_result(buf, t, begin, n, deltas, exceptions[k], t.dtype);
      } else {
        auto& a = acc[static_cast<std::size_t>(worker)];
        a.assign(n, 0.0f);
        for (std::size_t i = 0; i < k_inputs; ++i) {
          const TensorRef* r = deltas[i].tensors().find(t.name);
          const DType dd = r->info->dtype;
          const std::byte* data = deltas[i].tensors().data(*r).data() + begin * dtype_size(dd);
          // Where a delta stored the exact difference separately, that replaces
          // the stored value, which may be far off or even infinite (an
          // overflowing difference): keep the running sums there, add the
          // stored deltas, then redo those elements with the exact difference.
          const ExceptionList& ex = exceptions[k][i];
          const std::uint64_t first = ex.lower_bound(begin);
          std::uint64_t last = first;
          while (last < ex.count && ex.index_at(last) < end) ++last;
          auto& sums = saved[static_cast<std::size_t>(worker)];
          sums.clear();
          for (std::uint64_t e = first; e < last; ++e) sums.push_back(a[ex.index_at(e) - begin]);
          engine::accumulate_block(data, dd, n, static_cast<float>(weights[i]), a.data());
          for (std::uint64_t e = first; e < last; ++e) {
            std::uint64_t bb = 0, pb = 0;
            std::memcpy(&bb, ex.base + e * dtype_size(ex.base_dtype), dtype_size(ex.base_dtype));
            std::memcpy(&pb, ex.post + e * dtype_size(ex.post_dtype), dtype_size(ex.post_dtype));
            const double exact =
                engine::bits_to_f64(pb, ex.post_dtype) - engine::bits_to_f64(bb, ex.base_dtype);
            a[ex.index_at(e) - begin] = static_cast<float>(sums[e - first] + weights[i] * exact);
          }
        }
        engine::store_from_f32(a.data(), n, t.dtype, buf.data());
        check_finite_result(buf, t, begin, n, deltas, exceptions[k],
                            t.dtype == DType::kF64 ? DType::kF32 : t.dtype);
      }
      output.write_at(k, begin * os, buf);
    };
    // Mapped input pages would otherwise stay resident until the end.
    job.release = [&, k](std::uint64_t begin, std::uint64_t end) {
      for (const auto& d : deltas)
        d.tensors().release_elements(*d.tensors().find(manifest.tensors[k].name), begin, end);
    };
    const std::uint64_t elements = job.elements;
    job.finalize = [&, k, elements]() {
      for (const auto& d : deltas) d.release_exceptions(*d.manifest().find(manifest.tensors[k].name));
      exceptions[k].clear();
      merge.finish(k);
      summary.elements += elements;
    };
    jobs.push_back(std::move(job));
  }
  if (options.run.progress) options.run.progress->begin("combine", total_bytes);
  engine::run_jobs(pool, jobs, options.run.progress, engine::kHashBlockElements, options.run.cancel);
  if (options.run.progress) options.run.progress->end();

  if (!single_file) {
    const fs::path dir = staged.staging_path();
    for (const auto& from : carried) {
      const std::string name = from.filename().string();
      copy_file_atomically(from, dir / name);
      manifest.files.push_back(name);
    }
    if (files_source != nullptr)
      summary.notes.push_back("tokenizer and chat files taken from " + files_source->path().string());
    output.finish(std::nullopt);
    write_file_atomically(dir / kManifestFileName, manifest_to_json(manifest));
  } else {
    Metadata final_metadata = metadata;
    final_metadata[kManifestMetadataKey] = manifest_to_json(manifest);
    output.finish(final_metadata);
  }
  staged.commit();
  if (method == CombineMethod::kTies) {
    summary.notes.push_back("ties: each delta kept its " + format_percent(options.density) +
                            " largest-magnitude elements of every tensor; signs elected per element");
  } else if (method != CombineMethod::kSum) {
    summary.notes.push_back(method_name + ": each element kept with probability " +
                            format_percent(options.density) + " (seed " + std::to_string(options.seed) +
                            "), rescaled by 1/" + format_number(options.density));
  }
  for (const auto& d : deltas) summary.bytes_read += d.tensors().total_tensor_bytes();
  summary.tensors = manifest.tensors.size();
  summary.bytes_written = output.bytes_written();
  summary.encoding = manifest.encoding;
  summary.lossless = false;
  summary.seconds = clock.seconds();
  return summary;
}

}  // namespace paramdelta
