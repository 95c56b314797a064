// Reading and writing the safetensors format.
//
// Reader: the whole header is validated before any tensor byte is touched
// (see parse_safetensors_header); data is memory-mapped and handed out as spans.
// Writer: streaming, thread-safe positional writes, header padded to 8 bytes,
// written under a temporary name and renamed into place by finish().
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "paramdelta/dtype.h"

namespace paramdelta {

using Metadata = std::map<std::string, std::string>;

struct TensorInfo {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<std::uint64_t> shape;
  std::uint64_t begin = 0;  // byte offsets relative to the start of the data area
  std::uint64_t end = 0;

  std::uint64_t numel() const;
  std::uint64_t nbytes() const { return end - begin; }
};

struct SafetensorsHeader {
  std::uint64_t header_length = 0;  // the JSON's length in bytes (the first 8 bytes of the file)
  std::vector<TensorInfo> tensors;  // sorted by data offset
  Metadata metadata;
  std::uint64_t data_offset() const { return 8 + header_length; }
};

// Safety limits applied to every header we read.
inline constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;  // as the reference implementation
inline constexpr int kMaxJsonDepth = 64;

// The one validation gate. `file` is the header's first bytes (at least 8, and
// the whole header when available); `file_size` is the size of the whole file.
// Throws paramdelta::Error (kInvalidInput) naming `label`, the tensor and the rule broken.
SafetensorsHeader parse_safetensors_header(std::span<const std::byte> file, std::uint64_t file_size,
                                           const std::string& label);

class ByteSource;
namespace storage {
class RemoteFileWriter;
}

// Keeps a range of a weight file readable while it lives (see
// SafetensorsFile::pin); empty for local files, whose bytes always are.
class PinnedRange {
 public:
  PinnedRange() = default;
  PinnedRange(const ByteSource* source, std::uint64_t begin, std::uint64_t end)
      : source_(source), begin_(begin), end_(end) {}
  ~PinnedRange();
  PinnedRange(PinnedRange&& other) noexcept;
  PinnedRange& operator=(PinnedRange&& other) noexcept;
  PinnedRange(const PinnedRange&) = delete;
  PinnedRange& operator=(const PinnedRange&) = delete;

 private:
  const ByteSource* source_ = nullptr;
  std::uint64_t begin_ = 0;
  std::uint64_t end_ = 0;
};

class SafetensorsFile {
 public:
  // A local file (memory-mapped), or a remote object that a remote
  // location made visible under this path (see storage/remote_files.h).
  static std::shared_ptr<SafetensorsFile> open(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return path_; }
  const SafetensorsHeader& header() const { return header_; }
  const std::vector<TensorInfo>& tensors() const { return header_.tensors; }
  const Metadata& metadata() const { return header_.metadata; }
  const TensorInfo* find(std::string_view name) const;
  std::uint64_t file_size() const;

  // The tensor's bytes inside the mapping; valid while this object lives,
  // readable where pinned (always, for a local file).
  std::span<const std::byte> data(const TensorInfo& tensor) const;
  // Makes bytes [byte_begin, byte_end) of the tensor readable through data()
  // while the result lives (a no-op for local files).
  PinnedRange pin(const TensorInfo& tensor, std::uint64_t byte_begin, std::uint64_t byte_end) const;
  // Tells the kernel we are done with these bytes, so that mapped pages do not
  // accumulate in the resident set of a long streaming run.
  void release(const TensorInfo& tensor, std::uint64_t byte_begin, std::uint64_t byte_end) const;
  void advise_sequential(const TensorInfo& tensor) const;

  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

 private:
  SafetensorsFile() = default;
  std::filesystem::path path_;
  SafetensorsHeader header_;
  std::shared_ptr<ByteSource> source_;
  std::map<std::string, std::size_t, std::less<>> index_;
};

struct TensorSpec {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<std::uint64_t> shape;
  std::uint64_t nbytes() const;
};

// Streams one safetensors file. Tensors declared up front ("planned") get fixed
// offsets and may be written concurrently with write_at. Tensors whose size is
// only known later ("late") are appended after all planned data with append_late;
// `late_reserve_bytes` is room kept in the header for their entries and for
// metadata set after construction (if it does not suffice, finish() rewrites the
// file, which is correct but slower).
class SafetensorsWriter {
 public:
  SafetensorsWriter(std::filesystem::path final_path, std::vector<TensorSpec> planned, Metadata metadata = {},
                    std::uint64_t late_reserve_bytes = 0);
  ~SafetensorsWriter();  // removes the temporary file unless finish() succeeded
  SafetensorsWriter(const SafetensorsWriter&) = delete;
  SafetensorsWriter& operator=(const SafetensorsWriter&) = delete;

  const std::vector<TensorSpec>& planned() const { return planned_; }
  // Thread-safe: writes `bytes` at `offset` inside planned tensor `index`.
  void write_at(std::size_t index, std::uint64_t offset, std::span<const std::byte> bytes);
  // Appends a tensor after the planned ones. Not thread-safe with other append_late calls.
  void append_late(const TensorSpec& spec, std::span<const std::byte> bytes);
  void set_metadata(Metadata metadata);
  // Writes the header, flushes and renames the file into place (a remote
  // output's file: uploads its header and hands it to the output to commit).
  // Does nothing the second time.
  void finish();
  // Finishes the file as soon as every planned byte is written, from the
  // write_at call that completes it, when it goes to a remote output (whose
  // parts then leave memory early). For writers with no late tensors and no
  // metadata set after construction.
  void finish_when_complete() { finish_when_complete_ = true; }
  std::uint64_t bytes_written() const;
  const std::filesystem::path& final_path() const { return final_path_; }

 private:
  std::filesystem::path final_path_;
  std::filesystem::path temp_path_;
  std::vector<TensorSpec> planned_;
  std::vector<std::uint64_t> planned_offsets_;  // relative to data start
  std::vector<std::pair<TensorSpec, std::uint64_t>> late_;
  std::uint64_t late_end_ = 0;
  Metadata metadata_;
  std::uint64_t reserved_header_ = 0;
  std::unique_ptr<std::atomic<std::uint64_t>[]> written_;  // bytes written per planned tensor
  int fd_ = -1;
  bool finished_ = false;
  bool finish_when_complete_ = false;
  std::uint64_t planned_bytes_ = 0;
  std::atomic<std::uint64_t> planned_written_{0};
  std::unique_ptr<storage::RemoteFileWriter> remote_;  // a remote output's file: no local file
};

// Serialises a header as the safetensors reference implementation would
// (keys sorted, "__metadata__" first), without the 8-byte length prefix or padding.
std::string render_safetensors_header(const std::vector<std::pair<TensorSpec, std::uint64_t>>& tensors,
                                      const Metadata& metadata);

}  // namespace paramdelta
