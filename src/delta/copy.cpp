// paramdelta cp: a model or delta from one location to another.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "delta/delta_source.h"
#include "delta/model_files.h"
#include "delta/operation_support.h"
#include "delta/tensor_output.h"
#include "io/byte_source.h"
#include "io/file_ops.h"
#include "io/model_directory.h"
#include "paramdelta/checkpoint.h"
#include "paramdelta/error.h"
#include "paramdelta/location.h"
#include "paramdelta/operations.h"
#include "storage/remote_files.h"
#include "storage/remote_writer.h"

namespace paramdelta {

namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t kCopyChunk = std::uint64_t{8} << 20;

// One output file written by byte ranges: a local file, or a remote one
// uploaded as it is written.
class RawOutputFile {
 public:
  explicit RawOutputFile(const fs::path& path) : path_(path) {
    if (auto target = storage::find_remote_output_file(path)) {
      remote_ = std::make_unique<storage::RemoteFileWriter>(target->output, target->key);
    } else {
      fd_ = create_exclusive(path);
    }
  }
  ~RawOutputFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  void write_at(std::uint64_t offset, std::span<const std::byte> bytes) {
    if (remote_) {
      remote_->write_at(offset, bytes);
    } else {
      write_all_at(fd_, bytes, offset, path_);
    }
  }
  void finish(std::uint64_t size) {
    if (remote_) {
      remote_->finish({}, size);
    } else {
      close_checked(fd_, path_);
      fd_ = -1;
    }
  }

 private:
  fs::path path_;
  int fd_ = -1;
  std::unique_ptr<storage::RemoteFileWriter> remote_;
};

void check_cancel(const RunOptions& run) {
  if (run.cancel != nullptr && run.cancel->load()) {
    throw Error(ErrorKind::kCancelled, "stopped before it finished; nothing was written");
  }
}

std::uint64_t copy_weight_file(const fs::path& from, const fs::path& to, const RunOptions& run) {
  std::shared_ptr<ByteSource> source = storage::find_remote_file(from);
  if (!source) source = open_mapped_file(from.string());
  RawOutputFile out(to);
  const std::uint64_t size = source->size();
  for (std::uint64_t at = 0; at < size; at += kCopyChunk) {
    check_cancel(run);
    const std::uint64_t end = std::min(size, at + kCopyChunk);
    const PinnedRange pinned = source->pin(at, end);
    out.write_at(at, source->view().subspan(at, end - at));
    source->release(at, end);
  }
  out.finish(size);
  return size;
}

}  // namespace

OperationSummary copy(const CopyOptions& options) {
  Stopwatch clock;
  OperationSummary summary;
  summary.operation = "cp";
  summary.output = options.destination.string();
  const ResolvedLocation source = resolve_location(options.source);
  std::error_code ec;
  const bool directory = fs::is_directory(source.path, ec);

  // The whole source is checked before anything is written.
  std::uint64_t tensors = 0;
  if (probe_delta(source.path, /*given_as_delta=*/false).form != DeltaForm::kNone) {
    const DeltaSource delta = DeltaSource::open(source.path);
    tensors = delta.tensors().tensors().size();
  } else {
    const Checkpoint checkpoint = Checkpoint::open(source.path);
    tensors = checkpoint.tensors().size();
  }
  summary.tensors = tensors;

  if (!directory && !is_single_file_output(options.destination)) {
    throw Error(ErrorKind::kUsage, "the source is one .safetensors file, the destination is not",
                ErrorContext{options.destination.string()}, "name the destination file with .safetensors");
  }
  StagedOutput staged(options.destination,
                      directory ? StagedOutput::Kind::kDirectory : StagedOutput::Kind::kFile,
                      options.run.force);
  if (!directory) {
    summary.bytes_read = summary.bytes_written =
        copy_weight_file(source.path, staged.staging_path(), options.run);
  } else {
    std::vector<fs::path> weights = storage::remote_files_in(source.path);
    std::vector<fs::path> small;
    for (const auto& entry : fs::directory_iterator(source.path)) {
      const std::string name = entry.path().filename().string();
      if (!entry.is_regular_file()) {
        if (!storage::input_exists(entry.path()) || entry.is_directory()) {
          summary.notes.push_back("'" + name + "' is not a file paramdelta copies: left behind");
        }
        continue;
      }
      if (name.size() > 12 && name.compare(name.size() - 12, 12, ".safetensors") == 0) {
        weights.push_back(entry.path());
      } else if (is_written_by_paramdelta(name)) {
        small.push_back(entry.path());
      } else {
        summary.notes.push_back("'" + name + "' is not a file paramdelta copies: left behind");
      }
    }
    std::sort(weights.begin(), weights.end());
    for (const auto& w : weights) {
      const std::uint64_t n = copy_weight_file(w, staged.staging_path() / w.filename(), options.run);
      summary.bytes_read += n;
      summary.bytes_written += n;
    }
    check_carried_json_files(small);
    for (const auto& f : small) {
      check_cancel(options.run);
      copy_file_atomically(f, staged.staging_path() / f.filename());
      const std::uint64_t n = fs::file_size(f);
      summary.bytes_read += n;
      summary.bytes_written += n;
    }
  }
  check_cancel(options.run);
  staged.commit();
  summary.seconds = clock.seconds();
  return summary;
}

}  // namespace paramdelta
