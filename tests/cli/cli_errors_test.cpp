// Bad input: exit code 1 and one line on standard error naming the file.
// Bad usage: exit code 2.
#include <gtest/gtest.h>

#include <limits>

#include "cli/cli_test_support.h"

namespace paramdelta {
namespace {

namespace fs = std::filesystem;
using namespace testing;

class CliErrors : public ::testing::Test {
 protected:
  void SetUp() override { write_llama_pair(dir.path()); }
  std::string p(const std::string& name) const { return (dir / name).string(); }
  ScratchDir dir;
};

TEST_F(CliErrors, ACorruptWeightFileIsOneLineNamingIt) {
  std::string bytes = read_file(dir / "base" / "model.safetensors");
  bytes.resize(bytes.size() - 10);
  write_file(dir / "base" / "model.safetensors", bytes);
  const CommandResult r = run_cli({"compute", "--base", p("base"), "--post", p("post"), "-o", p("delta")});
  expect_one_line_error(r, p("base") + "/model.safetensors");
  EXPECT_FALSE(fs::exists(dir / "delta"));
  expect_one_line_error(run_cli({"inspect", p("base")}), "model.safetensors");
}

TEST_F(CliErrors, AMissingInputIsOneLineNamingIt) {
  expect_one_line_error(run_cli({"compute", "--base", p("nowhere"), "--post", p("post"), "-o", p("delta")}),
                        p("nowhere"));
  expect_one_line_error(run_cli({"apply", "--base", p("base"), "--delta", p("nodelta"), "-o", p("out")}),
                        p("nodelta"));
}

TEST_F(CliErrors, ABrokenIndexIsOneLineNamingIt) {
  write_model(dir / "sharded", llama_tensors(DType::kBF16, 2, 32, 64, 1), llama_config(2, 32, 64, false),
              10000);
  write_file(dir / "sharded" / "model.safetensors.index.json",
             "{\"weight_map\": {\"x\": \"../evil.safetensors\"}}");
  expect_one_line_error(run_cli({"inspect", p("sharded")}), "model.safetensors.index.json");
}

TEST_F(CliErrors, AShapeMismatchIsOneLineNamingTheTensorAndShapes) {
  write_model(dir / "wide", llama_tensors(DType::kBF16, 2, 48, 64, 1), llama_config(2, 48, 64, false));
  const CommandResult r = run_cli({"compute", "--base", p("base"), "--post", p("wide"), "-o", p("delta")});
  expect_one_line_error(r, "shape mismatch");
  EXPECT_NE(r.err.find(", 32]"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(", 48]"), std::string::npos) << r.err;
}

TEST_F(CliErrors, AVocabularyMismatchNamesSizesAndTheFlag) {
  write_model(dir / "chat", llama_tensors(DType::kBF16, 2, 32, 70, 1, false, 0.003, 2),
              llama_config(2, 32, 70, false));
  const CommandResult r = run_cli({"compute", "--base", p("base"), "--post", p("chat"), "-o", p("delta")});
  expect_one_line_error(r, "--vocab-mismatch overlap");
  EXPECT_NE(r.err.find("64"), std::string::npos);
  EXPECT_NE(r.err.find("70"), std::string::npos);
  const CommandResult ok = run_cli({"compute", "--base", p("base"), "--post", p("chat"), "-o", p("delta"),
                                    "--vocab-mismatch", "overlap", "-q"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
}

TEST_F(CliErrors, AModelPassedAsTheDeltaIsAUsageError) {
  const CommandResult r = run_cli({"apply", "--base", p("base"), "--delta", p("post"), "-o", p("out")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(lines_of(r.err).size(), 1u) << r.err;
  EXPECT_NE(r.err.find("not a paramdelta delta"), std::string::npos);
}

TEST_F(CliErrors, UsageErrorsExitWithTwo) {
  const std::vector<std::vector<std::string>> bad = {
      {},
      {"frobnicate"},
      {"compute", "--base", p("base")},                                                   // missing flags
      {"compute", "--base", p("base"), "--post", p("post"), "-o", p("d"), "--bogus"},     // unknown flag
      {"apply", "--base", p("base"), "--delta", p("d"), "-o", p("o"), "--scale", "abc"},  // not a number
      {"apply", "--base", p("base"), "--delta", p("d"), "-o", p("o"), "--dtype",
       "int8"},  // unsupported dtype
      {"compute", "--base", p("base"), "--post", p("post"), "-o", p("d"), "--vocab-mismatch", "maybe"},
      {"compute", "--base", p("base"), "--post", p("post"), "-o", p("d"), "--max-shard-size", "lots"},
      {"compute", "--base", p("base"), "--post", p("post"), "-o", p("d"), "--threads", "-3"},
      {"combine", "--delta", p("d"), "-o", p("c")},
      {"combine", "--delta", p("d"), "--delta", p("d"), "-o", p("c"), "--method", "mean"},
      {"combine", "--delta", p("d"), "--delta", p("d"), "-o", p("c"), "--method", "ties", "--density", "0"},
      {"combine", "--delta", p("d"), "--delta", p("d"), "-o", p("c"), "--density", "0.5"},  // sum
      {"combine", "--delta", p("d"), "--delta", p("d"), "-o", p("c"), "--method", "ties", "--seed", "3"},
      {"verify", "--base", p("base"), "--delta", p("d")},
      {"analyze", "--base", p("base")},                            // no delta
      {"analyze", "--delta", p("d"), "--top", "many"},             // not a number
      {"analyze", "--delta", p("base"), "--new-base", p("post")},  // drift needs the old base
  };
  for (const auto& args : bad) {
    const CommandResult r = run_cli(args);
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    EXPECT_EQ(r.exit_code, 2) << joined << "\n" << r.err;
    EXPECT_FALSE(r.err.empty()) << joined;
  }
  EXPECT_FALSE(fs::exists(dir / "d"));
}

// The library names options by field; the command line prints its flags.
TEST_F(CliErrors, TheLibrarysOptionsArePrintedAsTheFlagsThatSetThem) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"apply", "--base", p("base"), "--delta", p("d"), "-o", p("o"), "--scale", "inf"},
       "error: --scale must be a finite number"},
      {{"apply", "--base", p("base"), "--delta", p("d"), "-o", p("o"), "--dtype", "int8"},
       "error: --dtype 'int8' is not supported"},
      {{"compute", "--base", p("base"), "--post", p("post"), "-o", p("d"), "--delta-dtype", "f8"},
       "error: --delta-dtype 'f8' is not supported"},
      {{"compute", "--base", p("base"), "--post", p("post"), "-o", p("d"), "--vocab-mismatch", "maybe"},
       "error: --vocab-mismatch 'maybe' is not a policy"},
      {{"compute", "--base", p("base"), "--post", p("post"), "-o", p("d"), "--max-shard-size", "lots"},
       "error: --max-shard-size 'lots' is not a size"},
      {{"combine", "--delta", p("d"), "-o", p("c")}, "at least two deltas (--delta)"},
      {{"combine", "--delta", p("d"), "--delta", p("d"), "-o", p("c"), "--weight", "1"},
       "got 1 weights (--weight) for 2 deltas"},
      {{"combine", "--delta", p("d"), "--delta", p("d"), "-o", p("c"), "--method", "mean"},
       "error: --method 'mean' is not a method"},
      {{"combine", "--delta", p("d"), "--delta", p("d"), "-o", p("c"), "--density", "0.5"},
       "error: --density applies to the ties, dare and dare-ties methods only (add --method ties (or dare, "
       "dare-ties), or drop --density)"},
      {{"combine", "--delta", p("d"), "--delta", p("d"), "-o", p("c"), "--method", "ties", "--density", "0"},
       "error: --density must be above 0"},
      {{"analyze", "--delta", p("base"), "--new-base", p("post")},
       "give --base, the model the delta was computed from, with --new-base"},
      {{"apply", "--base", p("base"), "--delta", p("post"), "-o", p("o")},
       "a model is given as the base (--base)"},
  };
  for (const auto& [args, expected] : cases) {
    const CommandResult r = run_cli(args);
    EXPECT_EQ(r.exit_code, 2) << args[0] << ": " << r.err;
    EXPECT_EQ(lines_of(r.err).size(), 1u) << r.err;
    EXPECT_NE(r.err.find(expected), std::string::npos) << "'" << expected << "' not in: " << r.err;
    for (const char* field : {"max_shard_size", "delta_dtype", "vocab_mismatch", "new_base", "=true"}) {
      EXPECT_EQ(r.err.find(field), std::string::npos) << r.err;  // no option field leaks through
    }
  }
  EXPECT_FALSE(fs::exists(dir / "d"));
  EXPECT_FALSE(fs::exists(dir / "o"));
}

TEST_F(CliErrors, NonFiniteWeightsNameTensorIndexAndFlag) {
  TensorMap post = llama_tensors(DType::kBF16, 2, 32, 64, 1, false, 0.003, 2);
  post["model.layers.1.self_attn.q_proj.weight"].values[12] = std::numeric_limits<double>::infinity();
  write_model(dir / "inf", post, llama_config(2, 32, 64, false));
  const CommandResult r = run_cli({"compute", "--base", p("base"), "--post", p("inf"), "-o", p("delta")});
  expect_one_line_error(r, "model.layers.1.self_attn.q_proj.weight");
  EXPECT_NE(r.err.find("element 12"), std::string::npos);
  EXPECT_NE(r.err.find("--allow-non-finite"), std::string::npos);
  EXPECT_EQ(run_cli({"compute", "--base", p("base"), "--post", p("inf"), "-o", p("delta"),
                     "--allow-non-finite", "-q"})
                .exit_code,
            0);
}

}  // namespace
}  // namespace paramdelta
