#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "io/file_ops.h"
#include "paramdelta/error.h"
#include "paramdelta/safetensors.h"
#include "storage/remote_writer.h"

namespace paramdelta {

std::uint64_t TensorSpec::nbytes() const {
  std::uint64_t n = dtype_size(dtype);
  for (auto d : shape) n *= d;
  return n;
}

std::string render_safetensors_header(const std::vector<std::pair<TensorSpec, std::uint64_t>>& tensors,
                                      const Metadata& metadata) {
  // Assembled member by member: inserting n members into one ordered_json
  // object costs O(n^2) (each insertion searches the object), far too slow for
  // files of many thousand tensors. The text is the same.
  using json = nlohmann::ordered_json;
  auto text = [](const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::strict); };
  std::string out = "{";
  if (!metadata.empty()) {
    json meta = json::object();
    for (const auto& [k, v] : metadata) meta[k] = v;  // a std::map: already unique and sorted
    out += "\"__metadata__\":" + text(meta);
  }
  for (const auto& [spec, offset] : tensors) {
    if (out.size() > 1) out += ',';
    out += text(json(spec.name));
    out += ':';
    out += text(json{{"dtype", std::string(dtype_name(spec.dtype))},
                     {"shape", spec.shape},
                     {"data_offsets", {offset, offset + spec.nbytes()}}});
  }
  return out + "}";
}

namespace {
std::uint64_t round_up8(std::uint64_t n) { return (n + 7) / 8 * 8; }
}  // namespace

SafetensorsWriter::SafetensorsWriter(std::filesystem::path final_path, std::vector<TensorSpec> planned,
                                     Metadata metadata, std::uint64_t late_reserve_bytes)
    : final_path_(std::move(final_path)), planned_(std::move(planned)), metadata_(std::move(metadata)) {
  std::vector<std::pair<TensorSpec, std::uint64_t>> entries;
  std::uint64_t offset = 0;
  for (const auto& spec : planned_) {
    planned_offsets_.push_back(offset);
    entries.emplace_back(spec, offset);
    offset += spec.nbytes();
  }
  late_end_ = offset;
  // The header is written last, so the data area starts after room for it:
  // the header as it stands now plus what late tensors and metadata may add.
  const std::uint64_t header_now = render_safetensors_header(entries, metadata_).size();
  reserved_header_ = round_up8(8 + header_now + late_reserve_bytes) - 8;
  planned_bytes_ = offset;
  written_ = std::make_unique<std::atomic<std::uint64_t>[]>(planned_.size());
  if (auto target = storage::find_remote_output_file(final_path_)) {
    // The header goes up last, in a part of its own size; it is padded as a
    // local file's would be, so that both hold the same bytes.
    remote_ = std::make_unique<storage::RemoteFileWriter>(target->output, target->key);
    return;
  }
  temp_path_ = temporary_sibling(final_path_);
  fd_ = create_exclusive(temp_path_);
}

SafetensorsWriter::~SafetensorsWriter() {
  if (fd_ >= 0) close(fd_);
  if (!finished_) {
    std::error_code ec;
    std::filesystem::remove(temp_path_, ec);
  }
}

void SafetensorsWriter::write_at(std::size_t index, std::uint64_t offset, std::span<const std::byte> bytes) {
  const auto& spec = planned_.at(index);
  if (offset + bytes.size() > spec.nbytes()) {
    throw Error(ErrorKind::kInternal, "write past the end of a planned tensor",
                ErrorContext{final_path_.string(), spec.name, {}});
  }
  if (remote_) {
    remote_->write_at(planned_offsets_[index] + offset, bytes);
    written_[index].fetch_add(bytes.size(), std::memory_order_relaxed);
    if (finish_when_complete_ && planned_written_.fetch_add(bytes.size()) + bytes.size() == planned_bytes_) {
      finish();
    }
    return;
  }
  write_all_at(fd_, bytes, 8 + reserved_header_ + planned_offsets_[index] + offset, final_path_);
  written_[index].fetch_add(bytes.size(), std::memory_order_relaxed);
}

void SafetensorsWriter::append_late(const TensorSpec& spec, std::span<const std::byte> bytes) {
  if (bytes.size() != spec.nbytes()) {
    throw Error(ErrorKind::kInternal, "late tensor size does not match its spec",
                ErrorContext{final_path_.string(), spec.name, {}});
  }
  if (remote_) {
    remote_->write_at(late_end_, bytes);
  } else {
    write_all_at(fd_, bytes, 8 + reserved_header_ + late_end_, final_path_);
  }
  late_.emplace_back(spec, late_end_);
  late_end_ += bytes.size();
}

void SafetensorsWriter::set_metadata(Metadata metadata) { metadata_ = std::move(metadata); }

std::uint64_t SafetensorsWriter::bytes_written() const { return 8 + reserved_header_ + late_end_; }

void SafetensorsWriter::finish() {
  if (finished_) return;
  // A planned tensor that was not written completely would read back as zeros:
  // refuse to publish such a file.
  for (std::size_t i = 0; i < planned_.size(); ++i) {
    if (written_[i].load() != planned_[i].nbytes()) {
      throw Error(ErrorKind::kInternal,
                  "tensor was not written completely (" + std::to_string(written_[i].load()) + " of " +
                      std::to_string(planned_[i].nbytes()) + " bytes)",
                  ErrorContext{final_path_.string(), planned_[i].name, {}});
    }
  }
  std::vector<std::pair<TensorSpec, std::uint64_t>> entries;
  for (std::size_t i = 0; i < planned_.size(); ++i) entries.emplace_back(planned_[i], planned_offsets_[i]);
  for (const auto& late : late_) entries.push_back(late);
  std::string header = render_safetensors_header(entries, metadata_);

  if (remote_) {
    const std::uint64_t length =
        header.size() <= reserved_header_ ? reserved_header_ : round_up8(8 + header.size()) - 8;
    header.append(length - header.size(), ' ');
    std::string prefix(8, '\0');
    for (int i = 0; i < 8; ++i) prefix[i] = static_cast<char>((length >> (8 * i)) & 0xff);
    prefix += header;
    remote_->finish(std::as_bytes(std::span(prefix)), late_end_);
    finished_ = true;
    return;
  }
  if (header.size() <= reserved_header_) {
    // Pad with spaces, as the format allows, so the data starts where it was written.
    header.append(reserved_header_ - header.size(), ' ');
    std::string prefix(8, '\0');
    for (int i = 0; i < 8; ++i) prefix[i] = static_cast<char>((reserved_header_ >> (8 * i)) & 0xff);
    prefix += header;
    write_all_at(fd_, std::as_bytes(std::span(prefix)), 0, final_path_);
  } else {
    // The header outgrew its room: write a new file with the larger header and
    // copy the data after it. Correct, only slower; callers size the reserve to avoid it.
    const std::uint64_t new_reserved = round_up8(8 + header.size()) - 8;
    header.append(new_reserved - header.size(), ' ');
    std::filesystem::path second = temporary_sibling(final_path_);
    int fd2 = create_exclusive(second);
    try {
      std::string prefix(8, '\0');
      for (int i = 0; i < 8; ++i) prefix[i] = static_cast<char>((new_reserved >> (8 * i)) & 0xff);
      prefix += header;
      write_all_at(fd2, std::as_bytes(std::span(prefix)), 0, final_path_);
      copy_range(fd_, 8 + reserved_header_, fd2, 8 + new_reserved, late_end_, final_path_);
    } catch (...) {
      close(fd2);
      std::filesystem::remove(second);
      throw;
    }
    close(fd_);
    std::filesystem::remove(temp_path_);
    fd_ = fd2;
    temp_path_ = second;
    reserved_header_ = new_reserved;
  }
  close_checked(fd_, final_path_);
  fd_ = -1;
  publish_file(temp_path_, final_path_);
  finished_ = true;
}

}  // namespace paramdelta
