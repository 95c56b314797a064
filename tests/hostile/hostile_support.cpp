#include "hostile/hostile_support.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

namespace paramdelta::testing {

namespace fs = std::filesystem;

namespace {

std::string le_bytes(std::uint64_t value, int width) {
  std::string out(static_cast<std::size_t>(width), '\0');
  for (int i = 0; i < width; ++i)
    out[static_cast<std::size_t>(i)] = static_cast<char>((value >> (8 * i)) & 0xff);
  return out;
}

std::string bf16_data(const std::vector<std::uint16_t>& bits) {
  std::string out;
  for (auto b : bits) out += le_bytes(b, 2);
  return out;
}

std::string f32_data(const std::vector<float>& values) {
  std::string out;
  for (float v : values) {
    std::uint32_t bits;
    std::memcpy(&bits, &v, 4);
    out += le_bytes(bits, 4);
  }
  return out;
}

}  // namespace

std::string SafetensorsParts::bytes() const { return safetensors_image(header.dump(), data); }

SafetensorsParts valid_parts() {
  SafetensorsParts parts;
  parts.header["__metadata__"] = {{"format", "pt"}};
  parts.header["a"] = {{"dtype", "BF16"}, {"shape", {2, 3}}, {"data_offsets", {0, 12}}};
  parts.header["b"] = {{"dtype", "F32"}, {"shape", {2}}, {"data_offsets", {12, 20}}};
  parts.data = bf16_data({0x3F80, 0x4000, 0x4380, 0xBF80, 0x0000, 0x3E80}) + f32_data({1.0f, 2.0f});
  return parts;
}

std::string raw_image(std::uint64_t header_length, const std::string& header_text, const std::string& data) {
  return le_bytes(header_length, 8) + header_text + data;
}

SafetensorsParts read_parts(const fs::path& file) {
  const std::string bytes = read_file(file);
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i)
    n = (n << 8) | static_cast<unsigned char>(bytes.at(static_cast<std::size_t>(i)));
  SafetensorsParts parts;
  parts.header = nlohmann::ordered_json::parse(bytes.substr(8, n));
  parts.data = bytes.substr(8 + n);
  return parts;
}

void write_small_model(const fs::path& dir, int variant) {
  fs::create_directories(dir);
  SafetensorsParts parts = valid_parts();
  if (variant != 0) {
    // Values chosen so that some differences are not representable in BF16:
    // the lossless delta then carries exception lists.
    parts.data =
        bf16_data({0x3A81, 0x4000, 0x3A80, 0xBF00, 0x8000, static_cast<std::uint16_t>(0x3E80 + variant)}) +
        f32_data({1.5f, -2.0f * static_cast<float>(variant)});
  }
  write_file(dir / "model.safetensors", parts.bytes());
  write_file(dir / "config.json", R"({"model_type": "llama", "vocab_size": 2})");
}

CommandResult write_valid_pair_and_delta(const std::filesystem::path& root) {
  write_small_model(root / "base", 0);
  write_small_model(root / "post", 1);
  return run_cli({"compute", "--base", (root / "base").string(), "--post", (root / "post").string(), "-o",
                  (root / "delta").string(), "--quiet"});
}

void write_model_with_weights(const fs::path& dir, const std::string& weights) {
  fs::create_directories(dir);
  write_file(dir / "model.safetensors", weights);
  write_file(dir / "config.json", R"({"model_type": "llama", "vocab_size": 2})");
}

void expect_rejected(const CommandResult& result, const std::vector<std::string>& mentions) {
  EXPECT_EQ(result.exit_code, 1) << "stderr: " << result.err;
  const auto lines = std::count(result.err.begin(), result.err.end(), '\n');
  EXPECT_EQ(lines, 1) << "expected exactly one line on stderr, got:\n" << result.err;
  EXPECT_TRUE(!result.err.empty() && result.err.back() == '\n') << result.err;
  EXPECT_EQ(result.err.rfind("paramdelta: error: ", 0), 0u) << result.err;
  EXPECT_EQ(result.err.find("internal"), std::string::npos) << "an internal error is a bug: " << result.err;
  for (const auto& m : mentions) {
    EXPECT_NE(result.err.find(m), std::string::npos) << "error line lacks '" << m << "': " << result.err;
  }
}

std::vector<std::string> staging_leftovers(const fs::path& dir) {
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() > 4 && name[0] == '.' && name.find(".paramdelta-") != std::string::npos &&
        name.substr(name.size() - 4) == ".tmp") {
      found.push_back(name);
    }
  }
  return found;
}

void expect_no_output(const fs::path& output) {
  std::error_code ec;
  EXPECT_FALSE(fs::exists(fs::symlink_status(output, ec))) << output << " was left behind";
  const auto leftovers = staging_leftovers(output.parent_path());
  EXPECT_TRUE(leftovers.empty()) << "temporary output left behind: " << leftovers.front();
}

std::string nested_arrays(int depth) {
  return std::string(static_cast<std::size_t>(depth), '[') +
         std::string(static_cast<std::size_t>(depth), ']');
}

}  // namespace paramdelta::testing
