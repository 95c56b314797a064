// A checkpoint is a set of named tensors stored in one or more safetensors
// files, plus the non-weight files around them: a Hugging Face model directory
// (model.safetensors, or model-0000i-of-0000N.safetensors with
// model.safetensors.index.json), a single .safetensors file, or a delta
// directory (same layout with the "delta" prefix).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "paramdelta/safetensors.h"

namespace paramdelta {

struct TensorRef {
  const TensorInfo* info = nullptr;  // owned by the shard
  std::size_t shard = 0;
  const std::string& name() const { return info->name; }
};

class Checkpoint {
 public:
  // `path` is a directory or a .safetensors file. `prefix` names the weight files
  // in a directory ("model" for models, "delta" for deltas).
  static Checkpoint open(const std::filesystem::path& path, const std::string& prefix = "model");

  const std::filesystem::path& root() const { return root_; }  // the directory (or the file's parent)
  const std::filesystem::path& path() const { return path_; }  // what was opened
  bool is_single_file() const { return single_file_; }

  const std::vector<TensorRef>& tensors() const { return tensors_; }  // shard order, then offset order
  const TensorRef* find(std::string_view name) const;
  const SafetensorsFile& shard(std::size_t index) const { return *shards_[index]; }
  std::size_t shard_count() const { return shards_.size(); }
  // The tensor's bytes: readable where pinned (always, for local files).
  std::span<const std::byte> data(const TensorRef& ref) const;
  // Makes elements [begin, end) of `ref` (clamped to the tensor) readable
  // through data() while the result lives; blocks while a remote file's bytes
  // arrive. Every reader pins what it reads; for local files it costs nothing.
  PinnedRange pin_elements(const TensorRef& ref, std::uint64_t begin, std::uint64_t end) const;
  PinnedRange pin(const TensorRef& ref) const { return pin_elements(ref, 0, UINT64_MAX); }
  // Drops the mapped pages of elements [begin, end) of `ref` (clamped to the
  // tensor) once every reader is done with them; see SafetensorsFile::release.
  void release_elements(const TensorRef& ref, std::uint64_t begin, std::uint64_t end) const;
  std::uint64_t total_tensor_bytes() const;

  // Metadata of the first shard (a single file's __metadata__).
  const Metadata& metadata() const;

  // Text of a non-weight file in the directory (config.json, ...), if present.
  std::optional<std::string> read_text_file(const std::string& name) const;
  bool has_file(const std::string& name) const;
  // Warnings gathered while opening (e.g. an index whose total_size disagrees).
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  std::filesystem::path root_;
  std::filesystem::path path_;
  bool single_file_ = false;
  std::vector<std::shared_ptr<SafetensorsFile>> shards_;
  std::vector<TensorRef> tensors_;
  std::map<std::string, std::size_t, std::less<>> index_;
  std::vector<std::string> warnings_;
};

// Reads one tensor and widens it to float32 (any floating dtype; integers too).
std::vector<float> read_tensor_as_f32(const Checkpoint& checkpoint, const TensorRef& ref);

}  // namespace paramdelta
