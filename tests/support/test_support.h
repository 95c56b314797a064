// Helpers shared by the test suites: scratch directories, raw file writing,
// and running the real command-line program.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace paramdelta::testing {

// A fresh directory under the system temp dir, removed when the object dies.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

void write_file(const std::filesystem::path& path, const std::string& bytes);
std::string read_file(const std::filesystem::path& path);

// Builds a raw safetensors file image: 8-byte little-endian length, header, data.
std::string safetensors_image(const std::string& header_json, const std::string& data);

struct CommandResult {
  int exit_code = -1;
  std::string out;  // standard output
  std::string err;  // standard error
};

// Runs the paramdelta program built alongside the tests with `args`
// (shell-quoted here), capturing both streams.
CommandResult run_cli(const std::vector<std::string>& args);

// Runs an arbitrary shell command line, capturing both streams.
CommandResult run_shell(const std::string& command_line);

std::filesystem::path source_dir();
std::filesystem::path cli_path();

}  // namespace paramdelta::testing
