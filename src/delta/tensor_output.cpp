#include "delta/tensor_output.h"

#include "delta/manifest.h"
#include "io/file_ops.h"

namespace paramdelta {

bool is_single_file_output(const std::filesystem::path& output) {
  return without_trailing_separators(output).extension() == ".safetensors";
}

TensorOutput::TensorOutput(const std::filesystem::path& staging, bool single_file, const std::string& prefix,
                           std::vector<TensorSpec> tensors, std::uint64_t max_shard_size,
                           const Metadata& metadata, std::uint64_t late_reserve_bytes, bool with_exceptions)
    : single_file_(single_file) {
  if (single_file_) {
    file_ = std::make_unique<SafetensorsWriter>(staging, std::move(tensors), metadata, late_reserve_bytes);
  } else {
    shards_ = std::make_unique<ShardedWriter>(staging, prefix, std::move(tensors), max_shard_size, metadata);
    if (with_exceptions) {
      exceptions_ = std::make_unique<SafetensorsWriter>(
          staging / kExceptionsFileName, std::vector<TensorSpec>{}, metadata, late_reserve_bytes);
    }
  }
}

void TensorOutput::write_at(std::size_t index, std::uint64_t offset, std::span<const std::byte> bytes) {
  if (single_file_)
    file_->write_at(index, offset, bytes);
  else
    shards_->write_at(index, offset, bytes);
}

void TensorOutput::append_exception_tensor(const TensorSpec& spec, std::span<const std::byte> bytes) {
  if (single_file_)
    file_->append_late(spec, bytes);
  else
    exceptions_->append_late(spec, bytes);
  ++exception_tensors_;
}

void TensorOutput::finish(const std::optional<Metadata>& final_metadata) {
  if (single_file_) {
    if (final_metadata) file_->set_metadata(*final_metadata);
    file_->finish();
    finished_bytes_ = file_->bytes_written();
    return;
  }
  shards_->finish();
  finished_bytes_ = shards_->bytes_written();
  if (exceptions_ && exception_tensors_ > 0) {
    exceptions_->finish();
    finished_bytes_ += exceptions_->bytes_written();
  }
  exceptions_.reset();  // an unused exceptions file is discarded
}

std::uint64_t TensorOutput::bytes_written() const {
  if (finished_bytes_ > 0) return finished_bytes_;
  std::uint64_t total = single_file_ ? file_->bytes_written() : shards_->bytes_written();
  if (exceptions_) total += exceptions_->bytes_written();
  return total;
}

std::size_t TensorOutput::shard_count() const { return single_file_ ? 1 : shards_->shard_count(); }

}  // namespace paramdelta
