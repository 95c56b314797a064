#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "io/file_kind.h"
#include "io/mapped_file.h"
#include "paramdelta/error.h"
#include "paramdelta/safetensors.h"

namespace paramdelta {

namespace {
// Whether the first 8 bytes can be a safetensors header length: one that
// fits the file and the limit. Only a file that cannot be safetensors is
// examined for other formats, so that no valid file is ever misnamed.
bool could_be_safetensors(std::span<const std::byte> bytes) {
  if (bytes.size() < 8) return false;
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<std::uint64_t>(bytes[static_cast<std::size_t>(i)]);
  return n <= kMaxHeaderBytes && n <= bytes.size() - 8;
}

struct FileDescriptor {
  int fd = -1;
  ~FileDescriptor() {
    if (fd >= 0) close(fd);
  }
};
}  // namespace

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::filesystem::path& path) {
  const std::string label = path.string();
  FileDescriptor file;
  file.fd = ::open(label.c_str(), O_RDONLY | O_CLOEXEC);
  if (file.fd < 0) {
    throw Error(errno == ENOENT ? ErrorKind::kNotFound : ErrorKind::kIo,
                std::string("cannot open: ") + std::strerror(errno), ErrorContext{label, {}, {}});
  }
  struct stat st {};
  if (fstat(file.fd, &st) != 0) {
    throw Error(ErrorKind::kIo, std::string("cannot stat: ") + std::strerror(errno),
                ErrorContext{label, {}, {}});
  }
  if (!S_ISREG(st.st_mode)) throw_invalid(label, "is not a regular file");
  const auto size = static_cast<std::uint64_t>(st.st_size);

  std::shared_ptr<SafetensorsFile> result(new SafetensorsFile());
  result->path_ = path;
  result->map_ = std::make_unique<MappedFile>(file.fd, size, label);
  const auto bytes = result->map_->bytes();
  if (!could_be_safetensors(bytes))
    refuse_foreign_weights(bytes.first(std::min<std::size_t>(bytes.size(), 512)), size, label);
  // The header is parsed straight from the mapping: nothing is allocated
  // according to sizes the file claims before they are checked.
  result->header_ = parse_safetensors_header(result->map_->bytes(), size, label);
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

std::uint64_t SafetensorsFile::file_size() const { return map_->size(); }

std::span<const std::byte> SafetensorsFile::data(const TensorInfo& tensor) const {
  return map_->bytes().subspan(header_.data_offset() + tensor.begin, tensor.nbytes());
}

void SafetensorsFile::release(const TensorInfo& tensor, std::uint64_t byte_begin,
                              std::uint64_t byte_end) const {
  const std::uint64_t base = header_.data_offset() + tensor.begin;
  map_->release(base + byte_begin, base + byte_end);
}

void SafetensorsFile::advise_sequential(const TensorInfo& tensor) const {
  const std::uint64_t base = header_.data_offset() + tensor.begin;
  map_->advise_sequential(base, base + tensor.nbytes());
}

}  // namespace paramdelta
