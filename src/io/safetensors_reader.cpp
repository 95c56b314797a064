#include <algorithm>
#include <vector>

#include "io/byte_source.h"
#include "io/file_kind.h"
#include "paramdelta/error.h"
#include "paramdelta/safetensors.h"
#include "storage/remote_files.h"

namespace paramdelta {

namespace {
// Whether the first 8 bytes can be a safetensors header length: one that
// fits the file and the limit. Only a file that cannot be safetensors is
// examined for other formats, so that no valid file is ever misnamed.
bool could_be_safetensors(std::span<const std::byte> bytes, std::uint64_t file_size) {
  if (bytes.size() < 8) return false;
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<std::uint64_t>(bytes[static_cast<std::size_t>(i)]);
  return n <= kMaxHeaderBytes && n <= file_size - 8;
}

}  // namespace

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::filesystem::path& path) {
  std::shared_ptr<ByteSource> source = storage::find_remote_file(path);
  if (!source) source = open_mapped_file(path.string());
  const std::string& label = source->label();
  const std::uint64_t size = source->size();

  std::shared_ptr<SafetensorsFile> result(new SafetensorsFile());
  result->path_ = path;
  result->source_ = source;
  std::vector<std::byte> head(static_cast<std::size_t>(std::min<std::uint64_t>(size, 512)));
  source->read(0, head);
  if (!could_be_safetensors(head, size)) refuse_foreign_weights(head, size, label);
  // Only sizes checked against the file and the limit are allocated; a
  // length that fails them is reported by the header's parser from the
  // first bytes.
  std::uint64_t n = 0;
  for (std::size_t i = std::min<std::size_t>(head.size(), 8); i-- > 0;) {
    n = (n << 8) | static_cast<std::uint64_t>(head[i]);
  }
  if (head.size() >= 8 && n <= kMaxHeaderBytes && n <= size - 8 && 8 + n > head.size()) {
    head.resize(static_cast<std::size_t>(8 + n));
    source->read(0, head);
  }
  result->header_ = parse_safetensors_header(head, size, label);
  for (std::size_t i = 0; i < result->header_.tensors.size(); ++i) {
    result->index_.emplace(result->header_.tensors[i].name, i);
  }
  return result;
}

SafetensorsFile::~SafetensorsFile() = default;

const TensorInfo* SafetensorsFile::find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &header_.tensors[it->second];
}

std::uint64_t SafetensorsFile::file_size() const { return source_->size(); }

std::span<const std::byte> SafetensorsFile::data(const TensorInfo& tensor) const {
  return source_->view().subspan(header_.data_offset() + tensor.begin, tensor.nbytes());
}

PinnedRange SafetensorsFile::pin(const TensorInfo& tensor, std::uint64_t byte_begin,
                                 std::uint64_t byte_end) const {
  const std::uint64_t base = header_.data_offset() + tensor.begin;
  return source_->pin(base + std::min(byte_begin, tensor.nbytes()),
                      base + std::min(byte_end, tensor.nbytes()));
}

void SafetensorsFile::release(const TensorInfo& tensor, std::uint64_t byte_begin,
                              std::uint64_t byte_end) const {
  const std::uint64_t base = header_.data_offset() + tensor.begin;
  source_->release(base + byte_begin, base + byte_end);
}

void SafetensorsFile::advise_sequential(const TensorInfo& tensor) const {
  const std::uint64_t base = header_.data_offset() + tensor.begin;
  source_->advise_sequential(base, base + tensor.nbytes());
}

}  // namespace paramdelta
