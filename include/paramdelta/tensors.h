// Tensors directly, for bindings and programs that hold weights in memory:
// open a model or delta and read its tensors in place, write a set of
// tensors as a checkpoint, and ParamΔ's arithmetic on tensors in memory with
// the same kernels and rounding as the file operations.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "paramdelta/checkpoint.h"
#include "paramdelta/dtype.h"
#include "paramdelta/operations.h"

namespace paramdelta {

// A model (directory, .safetensors file, cached Hub id) or a delta (its
// tensors, under the model's names; a single-file delta also lists its
// exception tensors), memory-mapped; tensor bytes are read in place.
Checkpoint open_checkpoint(const std::string& location);

struct TensorToWrite {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<std::uint64_t> shape;
  std::span<const std::byte> bytes;  // exactly the elements of `shape` in `dtype`
};

// Writes `tensors` as a model: a directory (model.safetensors, or shards of at
// most run.max_shard_size with model.safetensors.index.json) or one file when
// `output` ends with .safetensors. The metadata gets "format": "pt" unless it
// names a format. Staged like every output: nothing appears under `output`
// unless the whole checkpoint was written; an existing output is an error
// unless run.force. Uses run.progress and run.cancel.
OperationSummary write_tensors(const std::filesystem::path& output, const std::vector<TensorToWrite>& tensors,
                               const Metadata& metadata, const RunOptions& run);

// A delta computed in memory (compute_delta_tensor), with the dtypes of the
// base and post tensors it was taken between.
struct DeltaTensorToWrite {
  TensorToWrite delta;
  DType base_dtype = DType::kF32;
  DType post_dtype = DType::kF32;
};

// Writes such deltas as a delta that apply, verify, combine and analyze read:
// a directory (delta.safetensors or shards, paramdelta.json) or one file with
// the manifest in its metadata. Its encoding is "plain" (no exception list)
// and it records no checksums of the inputs, which were never files.
OperationSummary write_delta_tensors(const std::filesystem::path& output,
                                     const std::vector<DeltaTensorToWrite>& tensors, const RunOptions& run);

struct ConstTensor {
  DType dtype = DType::kF32;
  std::vector<std::uint64_t> shape;
  const std::byte* data = nullptr;
};

struct MutableTensor {
  DType dtype = DType::kF32;
  std::vector<std::uint64_t> shape;
  std::byte* data = nullptr;
};

struct TensorMathOptions {
  int threads = 0;  // 0: one per hardware thread
  bool allow_non_finite = false;
  const std::atomic<bool>* cancel = nullptr;
};

// The dtype compute stores a lossless delta of a `post` tensor in.
DType delta_dtype_for(DType post);

// delta = post − base, each element computed in fp32 (F64: double) and
// rounded to nearest even in delta.dtype: the values compute writes to a
// delta file (without its exception list). Shapes must be equal; errors name
// `tensor` as compute's do.
void compute_delta_tensor(const std::string& tensor, const ConstTensor& base, const ConstTensor& post,
                          const MutableTensor& delta, const TensorMathOptions& options);

// out = base + scale·delta in fp32 (F64: double), rounded to out.dtype: what
// apply writes for a delta without an exception list.
void apply_delta_tensor(const std::string& tensor, const ConstTensor& base, const ConstTensor& delta,
                        double scale, const MutableTensor& out, const TensorMathOptions& options);

// out = Σ wᵢ·deltaᵢ accumulated in fp32 and rounded once: combine's sum.
void combine_delta_tensors(const std::string& tensor, const std::vector<ConstTensor>& deltas,
                           const std::vector<double>& weights, const MutableTensor& out,
                           const TensorMathOptions& options);

}  // namespace paramdelta
