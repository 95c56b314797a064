#include "io/mapped_file.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "paramdelta/error.h"

namespace paramdelta {

namespace {
std::uint64_t page_size() {
  static const std::uint64_t size = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
  return size;
}
}  // namespace

MappedFile::MappedFile(int fd, std::uint64_t size, const std::string& label) : size_(size) {
  if (size == 0) return;
  void* p = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    throw Error(ErrorKind::kIo, std::string("cannot memory-map file: ") + std::strerror(errno),
                ErrorContext{label, {}, {}});
  }
  data_ = static_cast<const std::byte*>(p);
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) munmap(const_cast<std::byte*>(data_), size_);
}

void MappedFile::release(std::uint64_t begin, std::uint64_t end) const {
  if (data_ == nullptr || end <= begin) return;
  const std::uint64_t ps = page_size();
  const std::uint64_t first = (begin > kReleaseBehind ? begin - kReleaseBehind : 0) / ps * ps;
  // The page holding `end` may still be read by the next range, unless the file ends there.
  const std::uint64_t last = end >= size_ ? (size_ + ps - 1) / ps * ps : end / ps * ps;
  if (last <= first) return;
  madvise(const_cast<std::byte*>(data_) + first, last - first, MADV_DONTNEED);
}

void MappedFile::advise_sequential(std::uint64_t begin, std::uint64_t end) const {
  if (data_ == nullptr || end <= begin) return;
  const std::uint64_t ps = page_size();
  std::uint64_t first = begin / ps * ps;
  // Sequential read-ahead; no WILLNEED, which would pull a whole huge tensor
  // into memory at once when the model is larger than RAM.
  madvise(const_cast<std::byte*>(data_) + first, end - first, MADV_SEQUENTIAL);
}

}  // namespace paramdelta
