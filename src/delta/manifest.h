// The delta manifest: what a delta is, where it came from and how each tensor
// is encoded. Stored as paramdelta.json in a delta directory, or under the
// "paramdelta.manifest" metadata key of a single-file delta.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "delta/model_identity.h"
#include "io/model_directory.h"
#include "paramdelta/dtype.h"

namespace paramdelta {

inline constexpr const char* kManifestMetadataKey = "paramdelta.manifest";
inline constexpr const char* kExceptionsFileName = "exceptions.safetensors";
inline constexpr int kDeltaFormatVersion = 1;

// Encodings of a delta's tensors.
inline constexpr const char* kEncodingExact = "same-dtype+exceptions";  // lossless
inline constexpr const char* kEncodingPlain = "plain";                  // rounded, no exceptions

// How a tensor of the delta is to be used.
enum class TensorKind {
  kDelta,  // post - base (for every row, or the first `delta_rows` rows)
  kFull,   // a post-only tensor: its full value
  kCarry,  // an integer/bool tensor of the post model, kept for reference; apply keeps the new base's
};

struct ManifestTensor {
  std::string name;
  TensorKind kind = TensorKind::kDelta;
  DType dtype = DType::kF32;         // as stored in the delta
  std::vector<std::uint64_t> shape;  // as stored in the delta (the post model's shape)
  std::optional<DType> base_dtype;   // kDelta only
  std::optional<DType> post_dtype;
  std::vector<std::uint64_t> base_shape;
  std::string base_tensor;  // base tensor used, when not `name` (tied embeddings)
  std::string base_checksum;
  std::string post_checksum;
  std::uint64_t exceptions = 0;
  // Vocabulary overlap: rows [0, delta_rows) hold deltas; rows [delta_rows, shape[0])
  // hold the post model's full values (tokens the base does not have).
  std::optional<std::uint64_t> delta_rows;
};

struct Manifest {
  int format_version = kDeltaFormatVersion;
  std::string tool;
  std::string created;
  std::string operation;  // "compute" or "combine"
  std::string encoding = kEncodingExact;
  bool lossless = true;
  std::string checksum;  // algorithm name
  std::string base_source;
  std::string post_source;
  std::uint64_t base_tensor_bytes = 0;
  std::uint64_t post_tensor_bytes = 0;
  // config.json's model_type and architectures on each side; empty when a side
  // had no config, or the delta was written before they were recorded.
  ModelIdentity base_identity;
  ModelIdentity post_identity;
  std::string architecture_mismatch = "error";  // "allowed": compute accepted different architectures
  std::string vocab_mismatch = "error";
  bool allow_non_finite = false;
  std::string exceptions_location;  // file name inside the directory, or "inline" for a single file
  std::vector<ManifestTensor> tensors;
  std::vector<std::string> removed_tensors;  // in the base, not in the post model
  std::vector<std::string> files;            // non-weight files carried in the delta directory
  std::vector<std::string> combined_from;    // combine: the input deltas
  std::vector<double> combine_weights;
  std::string combine_method;  // combine: "sum" when empty (deltas written before methods existed)
  std::optional<double> combine_density;
  std::optional<std::uint64_t> combine_seed;

  const ManifestTensor* find(const std::string& name) const;
};

std::string manifest_to_json(const Manifest& manifest);
// Throws paramdelta::Error naming `label` and the field on anything malformed.
Manifest manifest_from_json(const std::string& text, const std::string& label);

std::string tensor_kind_name(TensorKind kind);
// The exception tensors of a delta tensor: "<name>::exceptions.index" etc.
std::string exception_tensor_name(const std::string& tensor, const char* part);

}  // namespace paramdelta
