// Where an operation's tensors go: a directory of (possibly sharded)
// safetensors files, or one .safetensors file. Exception lists go to a side
// file in a directory, or after the main tensors in a single file.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/sharded_writer.h"
#include "paramdelta/safetensors.h"

namespace paramdelta {

bool is_single_file_output(const std::filesystem::path& output);

class TensorOutput {
 public:
  // `staging` is a directory (directory output) or the file to write (single file).
  TensorOutput(const std::filesystem::path& staging, bool single_file, const std::string& prefix,
               std::vector<TensorSpec> tensors, std::uint64_t max_shard_size, const Metadata& metadata,
               std::uint64_t late_reserve_bytes, bool with_exceptions);

  void write_at(std::size_t index, std::uint64_t offset, std::span<const std::byte> bytes);
  // Not thread-safe; the job runner's ordered finalize steps call it.
  void append_exception_tensor(const TensorSpec& spec, std::span<const std::byte> bytes);
  bool wrote_exceptions() const { return exception_tensors_ > 0; }
  // Single file: `final_metadata` replaces the metadata. Directory: ignored.
  void finish(const std::optional<Metadata>& final_metadata);
  std::uint64_t bytes_written() const;
  std::size_t shard_count() const;

 private:
  bool single_file_;
  std::unique_ptr<ShardedWriter> shards_;
  std::unique_ptr<SafetensorsWriter> file_;
  std::unique_ptr<SafetensorsWriter> exceptions_;
  std::size_t exception_tensors_ = 0;
  std::uint64_t finished_bytes_ = 0;
};

}  // namespace paramdelta
