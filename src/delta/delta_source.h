// An opened delta: its tensors, its manifest and its exception lists.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "delta/manifest.h"
#include "paramdelta/checkpoint.h"

namespace paramdelta {

// The exact-reconstruction list of one delta tensor: element indices (sorted),
// and the base and post values at those indices in their own dtypes.
struct ExceptionList {
  std::uint64_t count = 0;
  DType index_dtype = DType::kU32;
  DType base_dtype = DType::kBF16;
  DType post_dtype = DType::kBF16;
  const std::byte* index = nullptr;
  const std::byte* base = nullptr;
  const std::byte* post = nullptr;
  // Keeps the three arrays readable (remote files) while any copy lives.
  std::shared_ptr<std::vector<PinnedRange>> pins;

  std::uint64_t index_at(std::uint64_t i) const;
  // First position whose index is >= element.
  std::uint64_t lower_bound(std::uint64_t element) const;
};

// What a path given as a delta holds, told without reading any tensor.
enum class DeltaForm {
  kNone,          // not a delta (a model, or nothing a delta could be)
  kManifest,      // paramdelta's: paramdelta.json in the directory, or the manifest in the file's metadata
  kManifestless,  // post − base under the model's names and no manifest, as the Python implementation writes
};

struct DeltaProbe {
  DeltaForm form = DeltaForm::kNone;
  std::string reason;  // kNone: what the path is instead
  std::string hint;
};

// A directory without paramdelta.json is a delta without a manifest when it
// has no config.json (which makes it a model) and holds delta.safetensors or
// delta.safetensors.index.json. A .safetensors file without the manifest
// metadata is one unless a config.json (a model's file) or a paramdelta.json
// (a file of a delta directory) sits beside it; when the path is not known to
// be meant as a delta (`given_as_delta` false, as for inspect), its name must
// also contain "delta". A path that does not exist is reported as every
// missing input is.
DeltaProbe probe_delta(const std::filesystem::path& path, bool given_as_delta);

class DeltaSource;

// Elements [begin, end) of a delta tensor as doubles: the stored values, and
// the exact differences (post − base) where the exception list holds them.
void read_delta_values(const DeltaSource& delta, const TensorRef& ref, const ExceptionList& exceptions,
                       std::uint64_t begin, std::uint64_t end, double* out);

class DeltaSource {
 public:
  static DeltaSource open(const std::filesystem::path& path);

  // For a delta without a manifest (has_manifest() false), inferred from its
  // tensors: each floating-point tensor a difference, the others carried.
  const Manifest& manifest() const { return manifest_; }
  bool has_manifest() const { return has_manifest_; }
  // What an operation using this delta should say about it (empty for a delta with a manifest).
  const std::vector<std::string>& notes() const { return notes_; }
  const Checkpoint& tensors() const { return tensors_; }
  const std::filesystem::path& path() const { return path_; }
  bool is_directory() const { return !tensors_.is_single_file(); }
  // Empty list when the tensor has no exceptions.
  ExceptionList exceptions(const ManifestTensor& tensor) const;
  // Drops the mapped pages of a tensor's exception lists once it is written:
  // without this they stay resident, and a large model's lists add up to a
  // few hundred MB of RSS by the end of an apply.
  void release_exceptions(const ManifestTensor& tensor) const;

 private:
  void infer_manifest();

  std::filesystem::path path_;
  Manifest manifest_;
  bool has_manifest_ = true;
  std::vector<std::string> notes_;
  Checkpoint tensors_;
  std::optional<Checkpoint> exception_store_;
};

}  // namespace paramdelta
