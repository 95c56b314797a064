// Writes a set of tensors as a Hugging Face style checkpoint inside a
// directory: <prefix>.safetensors when everything fits in one shard, else
// <prefix>-0000i-of-0000N.safetensors plus <prefix>.safetensors.index.json
// (weight_map and metadata.total_size = the sum of tensor bytes), shards
// filled in order up to max_shard_size as the Hub's tools do.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "paramdelta/safetensors.h"

namespace paramdelta {

class ShardedWriter {
 public:
  ShardedWriter(const std::filesystem::path& directory, const std::string& prefix,
                std::vector<TensorSpec> tensors, std::uint64_t max_shard_size, const Metadata& metadata);

  std::size_t tensor_count() const { return locations_.size(); }
  // Thread-safe positional write into tensor `index` (in the order given).
  void write_at(std::size_t index, std::uint64_t offset, std::span<const std::byte> bytes);
  // Finishes every shard and writes the index when there is more than one.
  void finish();
  std::uint64_t bytes_written() const;
  std::size_t shard_count() const { return shards_.size(); }

 private:
  std::filesystem::path directory_;
  std::string prefix_;
  std::vector<std::unique_ptr<SafetensorsWriter>> shards_;
  std::vector<std::pair<std::size_t, std::size_t>> locations_;  // tensor -> (shard, index in shard)
};

std::string shard_file_name(const std::string& prefix, std::size_t shard, std::size_t count);

}  // namespace paramdelta
