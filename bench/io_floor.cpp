// The I/O floor of a paramdelta operation: read the operation's input files
// once and write the same number of output bytes, in the same files, with
// nothing else: what moving those bytes costs with plain buffered I/O on one
// thread, which the benchmark reports compute/apply/combine as a ratio to.
// It is not a hard lower bound: a tool that maps its inputs instead of
// read()ing them skips one copy per input byte, and two threads can copy
// from the page cache faster than one (paramdelta does both and runs below
// this floor when the page cache is warm).
//
// To be an honest floor it does what paramdelta does with the file system and
// no more: plain reads through 1 MiB buffers, writes into a temporary name in
// the output directory then a rename (no fsync, as paramdelta does not fsync
// by default), reads and writes interleaved in proportion as a streaming
// operation interleaves them.
//
//   io_floor --output-dir DIR [--output NAME:BYTES]... INPUT...
//
// Prints one JSON line: {"read_bytes":..,"written_bytes":..,"seconds":..,"gb_per_s":..}.

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

constexpr std::size_t kBufferBytes = std::size_t{1} << 20;

struct OutputFile {
  std::string name;
  std::uint64_t bytes = 0;
};

struct Options {
  std::filesystem::path output_dir;
  std::vector<OutputFile> outputs;
  std::vector<std::filesystem::path> inputs;
};

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what + (errno ? std::string(": ") + std::strerror(errno) : std::string()));
}

std::uint64_t parse_bytes(const std::string& text, const std::string& arg) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) {
    errno = 0;
    fail("bad byte count in '" + arg + "' (expected NAME:BYTES)");
  }
  return std::stoull(text);
}

Options parse_options(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        errno = 0;
        fail(arg + " needs a value");
      }
      return argv[++i];
    };
    if (arg == "--output-dir") {
      options.output_dir = value();
    } else if (arg == "--output") {
      const std::string spec = value();
      const auto colon = spec.rfind(':');
      if (colon == std::string::npos || colon == 0 || spec.find('/') != std::string::npos) {
        errno = 0;
        fail("bad --output '" + spec + "' (expected NAME:BYTES, a plain file name)");
      }
      options.outputs.push_back({spec.substr(0, colon), parse_bytes(spec.substr(colon + 1), spec)});
    } else if (arg == "--help" || arg == "-h") {
      std::puts("usage: io_floor --output-dir DIR [--output NAME:BYTES]... INPUT...");
      std::exit(0);
    } else if (arg.rfind("--", 0) == 0) {
      errno = 0;
      fail("unknown option " + arg);
    } else {
      options.inputs.emplace_back(arg);
    }
  }
  if (options.output_dir.empty() && !options.outputs.empty()) {
    errno = 0;
    fail("--output needs --output-dir");
  }
  return options;
}

// Writes the output files one after the other, as the reads give it room to.
class OutputStream {
 public:
  OutputStream(std::filesystem::path dir, std::vector<OutputFile> files)
      : dir_(std::move(dir)), files_(std::move(files)) {
    for (const auto& f : files_) total_ += f.bytes;
  }
  ~OutputStream() {
    if (fd_ >= 0) ::close(fd_);
  }
  std::uint64_t total() const { return total_; }
  std::uint64_t written() const { return written_; }

  // Writes from `data` (cycled) until `target` bytes in all have been written.
  void write_until(std::uint64_t target, const std::byte* data, std::size_t size) {
    while (written_ < target && current_ < files_.size()) {
      if (fd_ < 0) open_current();
      const std::uint64_t left_in_file = files_[current_].bytes - written_in_file_;
      const std::size_t n =
          static_cast<std::size_t>(std::min<std::uint64_t>({left_in_file, target - written_, size}));
      std::size_t done = 0;
      while (done < n) {
        const ssize_t w = ::write(fd_, data + done, n - done);
        if (w < 0) {
          if (errno == EINTR) continue;
          fail("write " + temp_path().string());
        }
        done += static_cast<std::size_t>(w);
      }
      written_ += n;
      written_in_file_ += n;
      if (written_in_file_ == files_[current_].bytes) finish_current();
    }
    // Zero-byte files still get created and renamed, like real empty outputs.
    while (current_ < files_.size() && files_[current_].bytes == 0) {
      open_current();
      finish_current();
    }
  }

 private:
  std::filesystem::path temp_path() const { return dir_ / (files_[current_].name + ".io_floor.tmp"); }

  void open_current() {
    fd_ = ::open(temp_path().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) fail("create " + temp_path().string());
  }

  void finish_current() {
    if (::close(fd_) != 0) fail("close " + temp_path().string());
    fd_ = -1;
    const auto final_path = dir_ / files_[current_].name;
    if (::rename(temp_path().c_str(), final_path.c_str()) != 0) fail("rename to " + final_path.string());
    ++current_;
    written_in_file_ = 0;
  }

  std::filesystem::path dir_;
  std::vector<OutputFile> files_;
  std::uint64_t total_ = 0;
  std::uint64_t written_ = 0;
  std::size_t current_ = 0;
  std::uint64_t written_in_file_ = 0;
  int fd_ = -1;
};

std::uint64_t input_size(const std::filesystem::path& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) {
    errno = 0;
    fail("cannot read " + path.string() + ": " + ec.message());
  }
  return size;
}

int run(const Options& options) {
  std::uint64_t input_total = 0;
  for (const auto& in : options.inputs) input_total += input_size(in);
  if (!options.output_dir.empty()) std::filesystem::create_directories(options.output_dir);

  std::vector<std::byte> buffer(kBufferBytes);
  const auto start = std::chrono::steady_clock::now();

  OutputStream out(options.output_dir, options.outputs);
  std::uint64_t read_total = 0;
  for (const auto& in : options.inputs) {
    const int fd = ::open(in.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail("open " + in.string());
    for (;;) {
      const ssize_t r = ::read(fd, buffer.data(), buffer.size());
      if (r < 0) {
        if (errno == EINTR) continue;
        fail("read " + in.string());
      }
      if (r == 0) break;
      read_total += static_cast<std::uint64_t>(r);
      // Keep the output in step with the input, as a streaming operation does.
      const auto target =
          input_total == 0
              ? out.total()
              : static_cast<std::uint64_t>(static_cast<long double>(out.total()) * read_total / input_total);
      out.write_until(std::min(target, out.total()), buffer.data(), static_cast<std::size_t>(r));
    }
    ::close(fd);
  }
  out.write_until(out.total(), buffer.data(), buffer.size());

  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double gbps = seconds > 0 ? static_cast<double>(read_total + out.written()) / seconds / 1e9 : 0.0;
  std::printf("{\"read_bytes\":%llu,\"written_bytes\":%llu,\"seconds\":%.6f,\"gb_per_s\":%.4f}\n",
              static_cast<unsigned long long>(read_total), static_cast<unsigned long long>(out.written()),
              seconds, gbps);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse_options(argc, argv));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "io_floor: %s\n", e.what());
    return 1;
  }
}
