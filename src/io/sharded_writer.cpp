#include "io/sharded_writer.h"

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/file_ops.h"
#include "paramdelta/error.h"

namespace paramdelta {

std::string shard_file_name(const std::string& prefix, std::size_t shard, std::size_t count) {
  if (count == 1) return prefix + ".safetensors";
  char buf[64];
  std::snprintf(buf, sizeof buf, "-%05zu-of-%05zu.safetensors", shard + 1, count);
  return prefix + buf;
}

ShardedWriter::ShardedWriter(const std::filesystem::path& directory, const std::string& prefix,
                             std::vector<TensorSpec> tensors, std::uint64_t max_shard_size,
                             const Metadata& metadata)
    : directory_(directory), prefix_(prefix) {
  // A tensor larger than the limit gets a shard of its own, like the Hub's tools.
  std::vector<std::vector<TensorSpec>> groups(1);
  std::uint64_t current = 0;
  for (auto& spec : tensors) {
    const std::uint64_t size = spec.nbytes();
    if (!groups.back().empty() && current + size > max_shard_size) {
      groups.emplace_back();
      current = 0;
    }
    locations_.emplace_back(groups.size() - 1, groups.back().size());
    groups.back().push_back(std::move(spec));
    current += size;
  }
  for (std::size_t s = 0; s < groups.size(); ++s) {
    shards_.push_back(std::make_unique<SafetensorsWriter>(
        directory_ / shard_file_name(prefix_, s, groups.size()), std::move(groups[s]), metadata));
    shards_.back()->finish_when_complete();  // a remote shard's buffers go as soon as it is written
  }
}

void ShardedWriter::write_at(std::size_t index, std::uint64_t offset, std::span<const std::byte> bytes) {
  const auto [shard, local] = locations_.at(index);
  shards_[shard]->write_at(local, offset, bytes);
}

std::uint64_t ShardedWriter::bytes_written() const {
  std::uint64_t total = 0;
  for (const auto& s : shards_) total += s->bytes_written();
  return total;
}

void ShardedWriter::finish() {
  for (auto& s : shards_) s->finish();
  if (shards_.size() == 1) return;
  nlohmann::json index;
  std::uint64_t total = 0;
  nlohmann::json weight_map = nlohmann::json::object();
  for (std::size_t s = 0; s < shards_.size(); ++s) {
    const std::string file = shards_[s]->final_path().filename().string();
    for (const auto& spec : shards_[s]->planned()) {
      weight_map[spec.name] = file;
      total += spec.nbytes();
    }
  }
  index["metadata"] = {{"total_size", total}};
  index["weight_map"] = std::move(weight_map);
  const std::string text = index.dump(2) + "\n";
  write_file_atomically(directory_ / (prefix_ + ".safetensors.index.json"), text);
}

}  // namespace paramdelta
