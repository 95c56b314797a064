// The storage seam's writing half for remote outputs: a safetensors file is
// uploaded while the engine writes it, in parts of kPartBytes over the data
// area (positional writes from many threads; a part goes up as soon as it is
// complete, by a shared pool of connections, with back-pressure so that
// memory stays bounded), and part 0 = the header followed by the first part
// of data goes up last, when the header is known. Nothing is visible until
// the output commits: a remote output holds its files' uploads and commits
// them together, weights first, then the small files, the index and the
// manifest last.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>

#include "storage/object_store.h"

namespace paramdelta::storage {

inline constexpr std::uint64_t kPartBytes = std::uint64_t{8} << 20;

class RemoteOutput;

class RemoteFileWriter {
 public:
  RemoteFileWriter(std::shared_ptr<RemoteOutput> output, std::string key);
  ~RemoteFileWriter();  // aborts the upload unless finish() succeeded
  RemoteFileWriter(const RemoteFileWriter&) = delete;
  RemoteFileWriter& operator=(const RemoteFileWriter&) = delete;

  // Thread-safe. Each byte of the data area is written once.
  void write_at(std::uint64_t data_offset, std::span<const std::byte> bytes);
  // `prefix` is everything before the data (length, header, padding);
  // the data area is [0, data_size). Uploads what remains and hands the
  // upload to the output, which commits it.
  void finish(std::span<const std::byte> prefix, std::uint64_t data_size);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// A remote destination: a directory ("prefix/" + file names) or one object.
// Local staging holds the small files; weight files are RemoteFileWriters.
class RemoteOutput : public std::enable_shared_from_this<RemoteOutput> {
 public:
  RemoteOutput(RemoteLocation location, std::filesystem::path staging, bool directory);
  ~RemoteOutput();

  const RemoteLocation& location() const { return location_; }
  std::string key_of(const std::filesystem::path& staged_file) const;
  // Called by finished writers: the upload is committed by commit().
  void add_pending(std::string key, std::unique_ptr<ObjectUpload> upload, std::size_t parts);
  // Commits the weights, uploads the staged small files (indexes and the
  // manifest last), then, when `replace`, deletes objects under the prefix
  // that this output did not write. A new output that fails half way is
  // removed again (best effort).
  void commit(bool replace);

 private:
  struct Pending;
  void commit_files(std::set<std::string>& written);
  RemoteLocation location_;
  std::filesystem::path staging_;
  bool directory_;
  std::unique_ptr<Pending> pending_;
};

// Registers `staging` (a directory, or the staged path of a single file) as
// standing for `output`; SafetensorsWriter asks find_remote_output_file.
void register_remote_output(const std::filesystem::path& staging, std::shared_ptr<RemoteOutput> output);
void unregister_remote_output(const std::filesystem::path& staging);
// The remote output and key a file written at `path` goes to, if any.
struct RemoteTarget {
  std::shared_ptr<RemoteOutput> output;
  std::string key;
};
std::optional<RemoteTarget> find_remote_output_file(const std::filesystem::path& path);

}  // namespace paramdelta::storage
