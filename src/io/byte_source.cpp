#include "io/byte_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "io/mapped_file.h"
#include "paramdelta/error.h"

namespace paramdelta {

PinnedRange::~PinnedRange() {
  if (source_ != nullptr) source_->unpin(begin_, end_);
}

PinnedRange::PinnedRange(PinnedRange&& other) noexcept
    : source_(std::exchange(other.source_, nullptr)), begin_(other.begin_), end_(other.end_) {}

PinnedRange& PinnedRange::operator=(PinnedRange&& other) noexcept {
  if (this != &other) {
    if (source_ != nullptr) source_->unpin(begin_, end_);
    source_ = std::exchange(other.source_, nullptr);
    begin_ = other.begin_;
    end_ = other.end_;
  }
  return *this;
}

namespace {

class MappedFileSource final : public ByteSource {
 public:
  MappedFileSource(int fd, std::uint64_t size, std::string label)
      : label_(std::move(label)), map_(fd, size, label_) {}

  const std::string& label() const override { return label_; }
  std::uint64_t size() const override { return map_.size(); }
  void read(std::uint64_t offset, std::span<std::byte> out) const override {
    if (offset > map_.size() || out.size() > map_.size() - offset) {
      throw Error(ErrorKind::kInvalidInput, "read past the end of the file", ErrorContext{label_});
    }
    if (!out.empty()) std::memcpy(out.data(), map_.bytes().data() + offset, out.size());
  }
  std::span<const std::byte> view() const override { return map_.bytes(); }
  PinnedRange pin(std::uint64_t, std::uint64_t) const override { return {}; }
  void release(std::uint64_t begin, std::uint64_t end) const override { map_.release(begin, end); }
  void advise_sequential(std::uint64_t begin, std::uint64_t end) const override {
    map_.advise_sequential(begin, end);
  }

 protected:
  void unpin(std::uint64_t, std::uint64_t) const override {}

 private:
  std::string label_;
  MappedFile map_;
};

struct FileDescriptor {
  int fd = -1;
  ~FileDescriptor() {
    if (fd >= 0) close(fd);
  }
};

}  // namespace

std::shared_ptr<ByteSource> open_mapped_file(const std::string& label) {
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
  return std::make_shared<MappedFileSource>(file.fd, static_cast<std::uint64_t>(st.st_size), label);
}

}  // namespace paramdelta
