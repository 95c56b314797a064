// A read-only memory mapping of a whole file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace paramdelta {

class MappedFile {
 public:
  // Maps `size` bytes of the open descriptor `fd` (which the mapping does not own).
  MappedFile(int fd, std::uint64_t size, const std::string& label);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::span<const std::byte> bytes() const { return {data_, size_}; }
  std::uint64_t size() const { return size_; }
  // Drops the pages of [begin, end) from this process's resident set; the page
  // cache keeps them, so a later read is still cheap.
  void release(std::uint64_t begin, std::uint64_t end) const;
  void advise_sequential(std::uint64_t begin, std::uint64_t end) const;

 private:
  const std::byte* data_ = nullptr;
  std::uint64_t size_ = 0;
};

}  // namespace paramdelta
