// An opened delta: its tensors, its manifest and its exception lists.
#pragma once

#include <filesystem>
#include <optional>
#include <span>
#include <string>

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

  std::uint64_t index_at(std::uint64_t i) const;
  // First position whose index is >= element.
  std::uint64_t lower_bound(std::uint64_t element) const;
};

class DeltaSource;

// Elements [begin, end) of a delta tensor as doubles: the stored values, and
// the exact differences (post − base) where the exception list holds them.
void read_delta_values(const DeltaSource& delta, const TensorRef& ref, const ExceptionList& exceptions,
                       std::uint64_t begin, std::uint64_t end, double* out);

class DeltaSource {
 public:
  static DeltaSource open(const std::filesystem::path& path);

  const Manifest& manifest() const { return manifest_; }
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
  std::filesystem::path path_;
  Manifest manifest_;
  Checkpoint tensors_;
  std::optional<Checkpoint> exception_store_;
};

}  // namespace paramdelta
