// Helpers for the command-line tests: a small generated Llama model pair on
// disk, and checks on what the program prints.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "support/model_builder.h"
#include "support/test_support.h"

namespace paramdelta::testing {

// base/ and post/ (the post-trained one with chat files) under `dir`.
inline void write_llama_pair(const std::filesystem::path& dir, DType dtype = DType::kBF16,
                             std::uint64_t max_shard = 0) {
  write_model(dir / "base", llama_tensors(dtype, 2, 32, 64, 1), llama_config(2, 32, 64, false), max_shard);
  write_model(dir / "post", llama_tensors(dtype, 2, 32, 64, 1, false, 0.003, 2),
              llama_config(2, 32, 64, false), max_shard);
  write_file(dir / "post" / "tokenizer.json", "{\"version\": \"1.0\"}");
  write_file(dir / "post" / "tokenizer_config.json", "{\"chat_template\": \"{{ messages }}\"}");
  write_file(dir / "post" / "generation_config.json", "{\"do_sample\": false}");
}

inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Exit code 1 and exactly one line on standard error, containing `part`.
inline void expect_one_line_error(const CommandResult& r, const std::string& part) {
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const auto lines = lines_of(r.err);
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_EQ(lines[0].rfind("paramdelta: error: ", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find(part), std::string::npos) << "'" << part << "' not in: " << lines[0];
}

}  // namespace paramdelta::testing
