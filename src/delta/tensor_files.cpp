// Tensors in files for callers that hold them in memory: a model or delta
// opened for reading in place, and a set of tensors written as a model.
#include <optional>
#include <set>

#include "delta/manifest.h"
#include "delta/operation_support.h"
#include "delta/tensor_output.h"
#include "io/file_ops.h"
#include "paramdelta/error.h"
#include "paramdelta/location.h"
#include "paramdelta/tensors.h"

namespace paramdelta {

namespace fs = std::filesystem;

Checkpoint open_checkpoint(const std::string& location) {
  const ResolvedLocation loc = resolve_location(location);
  std::error_code ec;
  const bool delta_directory = fs::is_directory(loc.path, ec) && fs::exists(loc.path / kManifestFileName, ec);
  return Checkpoint::open(loc.path, delta_directory ? "delta" : "model");
}

namespace {

std::vector<TensorSpec> checked_specs(const std::vector<TensorToWrite>& tensors) {
  std::set<std::string> names;
  std::vector<TensorSpec> specs;
  for (const auto& t : tensors) {
    if (t.name.empty())
      throw Error(ErrorKind::kUsage, "a tensor has an empty name", ErrorContext{}, "name it");
    if (!names.insert(t.name).second) {
      throw Error(ErrorKind::kUsage, "the name is given twice", ErrorContext{{}, t.name, {}},
                  "each tensor of a checkpoint needs its own name");
    }
    TensorSpec spec{t.name, t.dtype, t.shape};
    if (spec.nbytes() != t.bytes.size()) {
      throw Error(ErrorKind::kUsage,
                  "holds " + std::to_string(t.bytes.size()) + " bytes, but " +
                      std::string(dtype_name(t.dtype)) + " " + shape_string(t.shape) + " needs " +
                      std::to_string(spec.nbytes()),
                  ErrorContext{{}, t.name, {}});
    }
    specs.push_back(std::move(spec));
  }
  return specs;
}

// Writes the tensors under `prefix`; a delta's manifest goes into the
// single file's metadata or beside the shards.
OperationSummary write_checkpoint(const fs::path& output, const std::vector<TensorToWrite>& tensors,
                                  const std::string& prefix, const Metadata& metadata,
                                  const std::optional<std::string>& manifest_json, const RunOptions& run) {
  Stopwatch clock;
  OperationSummary summary;
  summary.operation = "save";
  summary.output = output.string();
  const std::vector<TensorSpec> specs = checked_specs(tensors);
  const bool single_file = is_single_file_output(output);
  StagedOutput staged(output, single_file ? StagedOutput::Kind::kFile : StagedOutput::Kind::kDirectory,
                      run.force);
  Metadata meta = metadata;
  if (manifest_json && single_file) meta[kManifestMetadataKey] = *manifest_json;
  TensorOutput out(staged.staging_path(), single_file, prefix, specs, run.max_shard_size, meta, 0, false);
  std::uint64_t total = 0;
  for (const auto& t : tensors) total += t.bytes.size();
  if (run.progress) run.progress->begin("save", total);
  // Pieces of a few MB, so that a cancel is seen within a tensor and progress moves.
  constexpr std::size_t kPiece = std::size_t{1} << 24;
  for (std::size_t k = 0; k < tensors.size(); ++k) {
    const auto bytes = tensors[k].bytes;
    for (std::size_t at = 0; at < bytes.size(); at += kPiece) {
      if (run.cancel != nullptr && run.cancel->load(std::memory_order_relaxed)) {
        throw Error(ErrorKind::kCancelled, "cancelled", ErrorContext{}, "nothing was written");
      }
      const std::size_t n = std::min(kPiece, bytes.size() - at);
      out.write_at(k, at, bytes.subspan(at, n));
      if (run.progress) run.progress->advance(n);
    }
  }
  out.finish(std::nullopt);
  if (manifest_json && !single_file)
    write_file_atomically(staged.staging_path() / kManifestFileName, *manifest_json);
  staged.commit();
  if (run.progress) run.progress->end();
  summary.tensors = tensors.size();
  for (const auto& s : specs) summary.elements += s.nbytes() / dtype_size(s.dtype);
  summary.bytes_written = out.bytes_written();
  summary.threads = 1;
  summary.seconds = clock.seconds();
  return summary;
}

}  // namespace

OperationSummary write_tensors(const fs::path& output, const std::vector<TensorToWrite>& tensors,
                               const Metadata& metadata, const RunOptions& run) {
  Metadata meta = metadata;
  meta.emplace("format", "pt");  // what Hugging Face's loaders expect; kept if the caller named one
  return write_checkpoint(output, tensors, "model", meta, std::nullopt, run);
}

OperationSummary write_delta_tensors(const fs::path& output, const std::vector<DeltaTensorToWrite>& tensors,
                                     const RunOptions& run) {
  Manifest manifest;
  manifest.tool = tool_identity();
  manifest.created = utc_timestamp();
  manifest.operation = "compute";
  manifest.encoding = kEncodingPlain;
  manifest.lossless = false;
  manifest.base_source = "memory";
  manifest.post_source = "memory";
  std::vector<TensorToWrite> plain;
  for (const auto& t : tensors) {
    if (!is_floating(t.delta.dtype) || !is_floating(t.base_dtype) || !is_floating(t.post_dtype)) {
      throw Error(ErrorKind::kUsage, "a delta is stored in floating-point types only",
                  ErrorContext{{}, t.delta.name, {}});
    }
    ManifestTensor e;
    e.name = t.delta.name;
    e.kind = TensorKind::kDelta;
    e.dtype = t.delta.dtype;
    e.shape = t.delta.shape;
    e.base_dtype = t.base_dtype;
    e.post_dtype = t.post_dtype;
    e.base_shape = t.delta.shape;
    manifest.base_tensor_bytes += t.delta.bytes.size() / dtype_size(t.delta.dtype) * dtype_size(t.base_dtype);
    manifest.post_tensor_bytes += t.delta.bytes.size() / dtype_size(t.delta.dtype) * dtype_size(t.post_dtype);
    manifest.tensors.push_back(std::move(e));
    plain.push_back(t.delta);
  }
  OperationSummary summary =
      write_checkpoint(output, plain, "delta", Metadata{{"format", "pt"}, {"paramdelta.content", "delta"}},
                       manifest_to_json(manifest), run);
  summary.encoding = manifest.encoding;
  return summary;
}

}  // namespace paramdelta
