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
  // Drops the pages of [begin, end), and of the kReleaseBehind bytes before
  // `begin`, from this process's resident set; the page cache keeps them, so a
  // later read is still cheap. Callers pass ranges that every reader has
  // finished with, in ascending order. The page holding `end` is kept (the next
  // range reads it) unless the file ends there. The bytes before `begin` are
  // dropped again because one page fault maps a whole neighbourhood of pages
  // (fault-around, large page-cache folios up to 2 MiB), which brings back
  // pages that an earlier call had dropped; without this, one neighbourhood per
  // range would stay resident and the resident set would grow with the model.
  void release(std::uint64_t begin, std::uint64_t end) const;
  static constexpr std::uint64_t kReleaseBehind = std::uint64_t{4} << 20;
  void advise_sequential(std::uint64_t begin, std::uint64_t end) const;

 private:
  const std::byte* data_ = nullptr;
  std::uint64_t size_ = 0;
};

}  // namespace paramdelta
