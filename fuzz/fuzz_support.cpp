#include "fuzz_support.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <new>

#include "paramdelta/error.h"

namespace paramdelta::fuzz {

namespace fs = std::filesystem;

namespace {

struct Scratch {
  fs::path path;
  Scratch() {
    std::string pattern = (fs::temp_directory_path() / "paramdelta-fuzz-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    path = pattern;
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "FUZZ FAILURE: %s\n", what.c_str());
  std::abort();
}

}  // namespace

const fs::path& scratch_dir() {
  static Scratch scratch;
  return scratch.path;
}

void write_bytes(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) fail("cannot write " + path.string());
}

void expect_clean(const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& e) {
    const std::string line = format_error_line(e);
    if (e.kind() == ErrorKind::kInternal) fail("internal error on hostile input: " + line);
    if (e.message().empty()) fail("error without a message: " + line);
    if (line.find('\n') != std::string::npos) fail("error line spans several lines: " + line);
  } catch (const std::bad_alloc&) {
    fail("std::bad_alloc: an allocation sized by unchecked input");
  } catch (const std::exception& e) {
    fail(std::string("exception other than paramdelta::Error: ") + e.what());
  }
}

void check(bool condition, const char* what) {
  if (!condition) fail(std::string("invariant broken: ") + what);
}

}  // namespace paramdelta::fuzz
