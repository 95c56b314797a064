// Releasing consumed ranges keeps a streaming reader's mapped pages bounded:
// the resident set must not grow with the file, whatever the kernel maps
// around each page fault.
#include "io/mapped_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "support/test_support.h"

namespace paramdelta {
namespace {

volatile unsigned g_sink;  // keeps the compiler from dropping test reads

// File-backed resident memory of this process, in bytes.
std::uint64_t rss_file_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("RssFile:", 0) == 0) return std::stoull(line.substr(8)) * 1024;
  }
  return 0;
}

void touch(const MappedFile& map, std::uint64_t begin, std::uint64_t end) {
  unsigned sum = 0;
  const auto bytes = map.bytes();
  for (std::uint64_t i = begin; i < end; i += 512) sum += static_cast<unsigned>(bytes[i]);
  g_sink = sum;
}

class MappedFileRelease : public ::testing::Test {
 protected:
  static constexpr std::uint64_t kSize = std::uint64_t{160} << 20;

  void SetUp() override {
    path_ = dir_.path() / "data.bin";
    std::vector<char> block(1 << 20);
    for (std::size_t i = 0; i < block.size(); ++i) block[i] = static_cast<char>(i * 31 + 7);
    std::ofstream out(path_, std::ios::binary);
    for (std::uint64_t done = 0; done < kSize; done += block.size()) out.write(block.data(), block.size());
    out.close();
    fd_ = ::open(path_.c_str(), O_RDONLY);
    ASSERT_GE(fd_, 0);
  }
  void TearDown() override {
    if (fd_ >= 0) ::close(fd_);
  }

  testing::ScratchDir dir_;
  std::filesystem::path path_;
  int fd_ = -1;
};

TEST_F(MappedFileRelease, ReadPagesStayResidentUntilReleased) {
  MappedFile map(fd_, kSize, path_.string());
  const std::uint64_t before = rss_file_bytes();
  touch(map, 0, 64 << 20);
  // The measurement sees mapped pages (otherwise the next test proves nothing).
  EXPECT_GE(rss_file_bytes(), before + (48 << 20));
  map.release(0, kSize);
  EXPECT_LE(rss_file_bytes(), before + (4 << 20));
}

// What an operation does: small chunks whose edges are not page-aligned (a
// safetensors header is not a multiple of the page size), read in order and
// released in ascending ranges, chunk by chunk or coalesced.
std::uint64_t stream_and_release(const MappedFile& map, std::uint64_t coalesce) {
  const std::uint64_t header = 1832, chunk = 16384, size = map.size();
  std::uint64_t released = 0, peak = 0;
  for (std::uint64_t pos = header; pos < size; pos += chunk) {
    const std::uint64_t end = std::min(pos + chunk, size);
    touch(map, pos, end);
    if (end - released >= coalesce || end == size) {
      peak = std::max(peak, rss_file_bytes());
      map.release(released, end);
      released = end;
    }
  }
  return peak;
}

TEST_F(MappedFileRelease, StreamingKeepsTheResidentSetFlat) {
  for (const std::uint64_t coalesce : {std::uint64_t{16} << 10, std::uint64_t{512} << 10}) {
    MappedFile map(fd_, kSize, path_.string());
    const std::uint64_t before = rss_file_bytes();
    const std::uint64_t peak = stream_and_release(map, coalesce);
    EXPECT_LE(peak, before + (16 << 20)) << "releasing every " << coalesce << " bytes of a " << (kSize >> 20)
                                         << " MiB file: the resident set grew";
    EXPECT_LE(rss_file_bytes(), before + (4 << 20)) << "releasing every " << coalesce << " bytes";
  }
}

}  // namespace
}  // namespace paramdelta
