// Small POSIX file helpers that turn failures into paramdelta::Error with the
// file named, and the staging of outputs so that nothing half-written ever
// appears under a final name.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string_view>

namespace paramdelta {

namespace storage {
class RemoteOutput;
}

// The path as the user meant it: "dir/" and "dir//" name "dir" ("/" stays "/").
std::filesystem::path without_trailing_separators(const std::filesystem::path& path);

// A unique, hidden name next to `final_path` (same directory, so rename is atomic).
std::filesystem::path temporary_sibling(const std::filesystem::path& final_path);
int create_exclusive(const std::filesystem::path& path);
void write_all_at(int fd, std::span<const std::byte> bytes, std::uint64_t offset,
                  const std::filesystem::path& label);
void copy_range(int from_fd, std::uint64_t from_offset, int to_fd, std::uint64_t to_offset,
                std::uint64_t length, const std::filesystem::path& label);
void close_checked(int fd, const std::filesystem::path& label);
void publish_file(const std::filesystem::path& temp, const std::filesystem::path& final_path);
void copy_file_atomically(const std::filesystem::path& from, const std::filesystem::path& to);

// An output (a directory or a single file) assembled under a temporary name
// beside its destination and renamed into place by commit(). Destroyed
// without commit, it removes what was assembled. An existing destination is
// an error unless `force`; with force it is replaced only at commit, and only
// when it is what this output could have been: a file for a file, and for a
// directory an empty one, an earlier delta or a model
// (why_directory_is_not_replaceable). The current, root and home
// directories are never replaced. An object store destination follows the
// same rules with its objects; URLs of other kinds are refused.
class StagedOutput {
 public:
  enum class Kind { kDirectory, kFile };
  StagedOutput(std::filesystem::path destination, Kind kind, bool force);
  ~StagedOutput();
  StagedOutput(const StagedOutput&) = delete;
  StagedOutput& operator=(const StagedOutput&) = delete;

  // Where to write the output: a local path beside the destination, or for an
  // object store destination (az://, s3://) a private temporary directory
  // whose weight files are uploaded as they are written (storage/remote_writer.h).
  const std::filesystem::path& staging_path() const { return staging_; }
  const std::filesystem::path& destination() const { return destination_; }
  void commit();

 private:
  std::filesystem::path destination_;  // without trailing separators
  std::filesystem::path staging_;
  Kind kind_;
  bool force_;
  bool committed_ = false;
  std::shared_ptr<storage::RemoteOutput> remote_;
  std::filesystem::path remote_scratch_;  // the temporary directory of a remote output
};

// Throws kExists if `destination` exists and !force, or may not be replaced
// by an output of `kind` (see StagedOutput); kUsage if its parent directory is missing.
void check_output_destination(const std::filesystem::path& destination, StagedOutput::Kind kind, bool force);

}  // namespace paramdelta

namespace paramdelta {
// Writes a whole small file under a temporary name and renames it into place.
void write_file_atomically(const std::filesystem::path& path, std::string_view contents);
}  // namespace paramdelta
