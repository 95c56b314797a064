// paramdelta cp between local paths (object stores: tests/interop/test_remote_operations.py).
#include <gtest/gtest.h>

#include "cli/cli_test_support.h"
#include "support/model_builder.h"
#include "support/test_support.h"

namespace paramdelta::testing {
namespace {

namespace fs = std::filesystem;

TEST(CliCopy, CopiesAShardedModelByteForByteAndLeavesForeignFilesBehind) {
  ScratchDir s;
  write_llama_pair(s.path(), DType::kBF16, /*max_shard=*/20000);
  write_file(s / "post" / "README.md", "notes");
  const CommandResult r = run_cli({"cp", (s / "post").string(), (s / "copy").string(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"operation\": \"cp\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("README.md"), std::string::npos) << "the file left behind is named: " << r.out;
  std::size_t files = 0;
  for (const auto& e : fs::directory_iterator(s / "post")) {
    const std::string name = e.path().filename().string();
    if (name == "README.md") {
      EXPECT_FALSE(fs::exists(s / "copy" / name));
      continue;
    }
    ++files;
    EXPECT_EQ(read_file(s / "copy" / name), read_file(e.path())) << name;
  }
  EXPECT_GT(files, 4u);  // shards, index, config, tokenizer files
}

TEST(CliCopy, ChecksTheSourceFirstAndKeepsAnExistingDestination) {
  ScratchDir s;
  write_llama_pair(s.path());
  write_file(s / "post" / "model.safetensors", "not safetensors at all");
  expect_one_line_error(run_cli({"cp", (s / "post").string(), (s / "copy").string()}), "model.safetensors");
  EXPECT_FALSE(fs::exists(s / "copy"));
  ASSERT_EQ(run_cli({"cp", (s / "base").string(), (s / "copy").string()}).exit_code, 0);
  expect_one_line_error(run_cli({"cp", (s / "base").string(), (s / "copy").string()}), "--force");
  const CommandResult mismatch =
      run_cli({"cp", (s / "base" / "model.safetensors").string(), (s / "one.bin").string()});
  EXPECT_EQ(mismatch.exit_code, 2) << mismatch.err;  // a usage error
  EXPECT_NE(mismatch.err.find("name the destination file with .safetensors"), std::string::npos)
      << mismatch.err;
  ASSERT_EQ(run_cli({"cp", (s / "base" / "model.safetensors").string(), (s / "one.safetensors").string()})
                .exit_code,
            0);
  EXPECT_EQ(read_file(s / "one.safetensors"), read_file(s / "base" / "model.safetensors"));
}

}  // namespace
}  // namespace paramdelta::testing
