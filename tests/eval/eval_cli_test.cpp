// The eval and logits commands' handling of bad invocations: one line on
// standard error, exit code 2 for usage errors and 1 for bad inputs.
#include <gtest/gtest.h>

#include "eval_test_models.h"

namespace paramdelta {
namespace {

using testing::run_cli;
using testing::ScratchDir;

std::size_t lines(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

class EvalCli : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::write_tiny_model(dir_.path(), testing::tiny_llama_config(),
                              testing::tiny_llama_tensors(testing::tiny_llama_config()));
  }
  ScratchDir dir_;
};

TEST_F(EvalCli, LogitsPrintsEveryPositionAndThePerplexity) {
  auto r = run_cli({"logits", "--model", dir_.path().string(), "--ids", "1, 2,3", "--top", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("perplexity"), std::string::npos) << r.out;
  EXPECT_EQ(lines(r.out), 5u) << r.out;  // header, 3 positions, perplexity
  auto j = run_cli({"logits", "--model", dir_.path().string(), "--ids", "7", "--json"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  auto parsed = nlohmann::json::parse(j.out);
  EXPECT_EQ(parsed["logits"].size(), 1u);
  EXPECT_EQ(parsed["logits"][0].size(), 50u);
  EXPECT_TRUE(parsed["perplexity"].is_null());  // one token: nothing to score
}

TEST_F(EvalCli, LogitsRejectsBadIds) {
  for (const char* ids : {"1,x", "1,,2", "-3", "99999999999", ""}) {
    auto r = run_cli({"logits", "--model", dir_.path().string(), "--ids", ids});
    EXPECT_EQ(r.exit_code, 2) << ids;
    EXPECT_NE(r.err.find("--ids"), std::string::npos) << r.err;
    EXPECT_EQ(lines(r.err), 1u) << r.err;
  }
  auto r = run_cli({"logits", "--model", dir_.path().string(), "--ids", "1,50"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("outside the vocabulary"), std::string::npos) << r.err;
}

TEST_F(EvalCli, EvalUsageErrors) {
  testing::write_file(dir_ / "text.txt", "hello");
  auto r = run_cli(
      {"eval", "--model", dir_.path().string(), "--data", (dir_ / "text.txt").string(), "--metric", "bleu"});
  EXPECT_EQ(r.exit_code, 2);
  r = run_cli({"eval", "--model", dir_.path().string(), "--data", (dir_ / "text.txt").string(), "--metric",
               "perplexity", "--chat-template"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--chat-template"), std::string::npos) << r.err;
  r = run_cli({"eval", "--model", dir_.path().string(), "--data", (dir_ / "missing.txt").string(), "--metric",
               "perplexity"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("missing.txt"), std::string::npos) << r.err;
  r = run_cli({"eval", "--model", dir_.path().string(), "--data", (dir_ / "text.txt").string(), "--metric",
               "accuracy", "--stop", "\\q"});
  EXPECT_NE(r.exit_code, 0);
  r = run_cli({"eval", "--model", dir_.path().string(), "--data", (dir_ / "text.txt").string(), "--metric",
               "accuracy", "--batch", "0"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--batch"), std::string::npos) << r.err;
}

TEST_F(EvalCli, EvalWithoutATokenizerSaysSo) {
  testing::write_file(dir_ / "text.txt", "hello world");
  auto r = run_cli({"eval", "--model", dir_.path().string(), "--data", (dir_ / "text.txt").string(),
                    "--metric", "perplexity"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("tokenizer.json"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace paramdelta
