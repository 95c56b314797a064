// Compact deltas (--delta-dtype, and combine's plain outputs) hold each
// difference rounded once to a dtype: a difference beyond that dtype's range
// is an error naming the tensor and element, never a silent infinity.
#include <gtest/gtest.h>

#include <algorithm>

#include "cli/cli_test_support.h"

namespace paramdelta {
namespace {

namespace fs = std::filesystem;
using namespace testing;

constexpr const char* kTensor = "model.layers.0.mlp.down_proj.weight";

class CompactDelta : public ::testing::Test {
 protected:
  // A bf16 pair whose element 5 of kTensor moves from `base_value` to `post_value`.
  void write_pair(double base_value, double post_value) {
    TensorMap base = llama_tensors(DType::kBF16, 2, 32, 64, 1);
    TensorMap post = llama_tensors(DType::kBF16, 2, 32, 64, 1, false, 0.003, 2);
    base[kTensor].values[5] = base_value;
    post[kTensor].values[5] = post_value;
    write_model(dir / "base", base, llama_config(2, 32, 64, false));
    write_model(dir / "post", post, llama_config(2, 32, 64, false));
  }
  CommandResult compute(const std::string& out, const std::vector<std::string>& extra) {
    std::vector<std::string> args{"compute", "--base", p("base"), "--post", p("post"), "-o", p(out), "-q"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_cli(args);
  }
  std::string p(const std::string& name) const { return (dir / name).string(); }
  ScratchDir dir;
};

std::vector<std::string> entries_of(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

void expect_overflow_error(const CommandResult& r, const std::string& dtype) {
  expect_one_line_error(r, kTensor);
  EXPECT_NE(r.err.find("element 5"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("overflows " + dtype), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("lossless"), std::string::npos) << "the hint names the lossless default: " << r.err;
}

TEST_F(CompactDelta, AnF32DeltaBeyondTheF32RangeIsAnErrorNamingTensorAndElement) {
  write_pair(-3e38, 4.3e37);  // post - base = 3.43e38 > FLT_MAX
  const CommandResult r = compute("delta", {"--delta-dtype", "f32"});
  expect_overflow_error(r, "F32");
  EXPECT_FALSE(fs::exists(dir / "delta"));
  EXPECT_EQ(entries_of(dir.path()), (std::vector<std::string>{"base", "post"})) << "nothing left behind";
}

TEST_F(CompactDelta, TheLosslessDefaultCarriesADifferenceBeyondTheF32RangeExactly) {
  write_pair(-3e38, 4.3e37);
  ASSERT_EQ(compute("delta", {}).exit_code, 0);
  const CommandResult v =
      run_cli({"verify", "--base", p("base"), "--delta", p("delta"), "--expect", p("post")});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

TEST_F(CompactDelta, ABf16DeltaBeyondTheBf16RangeIsAnError) {
  write_pair(-2e38, 2e38);
  expect_overflow_error(compute("delta.safetensors", {"--delta-dtype", "bf16"}), "BF16");
  EXPECT_FALSE(fs::exists(dir / "delta.safetensors"));
}

TEST_F(CompactDelta, AnF16DeltaOfABf16ModelBeyondTheF16RangeIsAnError) {
  write_pair(-40000.0, 40000.0);  // both fit in f16; the difference 80000 does not
  expect_overflow_error(compute("delta", {"--delta-dtype", "f16"}), "F16");
  EXPECT_FALSE(fs::exists(dir / "delta"));
}

TEST_F(CompactDelta, APostOnlyTensorBeyondTheDeltaDtypeRangeIsAnError) {
  TensorMap base = llama_tensors(DType::kBF16, 2, 32, 64, 1);
  TensorMap post = llama_tensors(DType::kBF16, 2, 32, 64, 1, false, 0.003, 2);
  TestTensor extra{DType::kBF16, {4}, {1.0, 2.0, 1e6, 3.0}, {}};
  post["model.extra.weight"] = extra;
  write_model(dir / "base", base, llama_config(2, 32, 64, false));
  write_model(dir / "post", post, llama_config(2, 32, 64, false));
  const CommandResult r = compute("delta", {"--delta-dtype", "f16"});
  expect_one_line_error(r, "model.extra.weight");
  EXPECT_NE(r.err.find("element 2"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("overflows F16"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "delta"));
}

TEST_F(CompactDelta, ACombinedFullValueBeyondTheOutputDtypeRangeIsAnError) {
  TensorMap base = llama_tensors(DType::kBF16, 2, 32, 64, 1);
  TensorMap post = llama_tensors(DType::kBF16, 2, 32, 64, 1, false, 0.003, 2);
  TestTensor extra{DType::kBF16, {4}, {1.0, 2.0, 1e6, 3.0}, {}};
  post["model.extra.weight"] = extra;
  write_model(dir / "base", base, llama_config(2, 32, 64, false));
  write_model(dir / "post", post, llama_config(2, 32, 64, false));
  ASSERT_EQ(compute("d1", {}).exit_code, 0);
  ASSERT_EQ(compute("d2", {}).exit_code, 0);
  const CommandResult r = run_cli(
      {"combine", "--delta", p("d1"), "--delta", p("d2"), "-o", p("combined"), "--delta-dtype", "f16", "-q"});
  expect_one_line_error(r, "model.extra.weight");
  EXPECT_NE(r.err.find("element 2"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("overflows F16"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "combined"));
}

TEST_F(CompactDelta, ACombinedSumBeyondTheOutputDtypeRangeIsAnErrorNamingTheOverflow) {
  write_pair(-1.5e38, 1.5e38);  // each delta holds 3e38; their sum 6e38 exceeds every 32-bit range
  ASSERT_EQ(compute("d1", {"--delta-dtype", "f32"}).exit_code, 0);
  const CommandResult r =
      run_cli({"combine", "--delta", p("d1"), "--delta", p("d1"), "-o", p("combined"), "-q"});
  expect_one_line_error(r, kTensor);
  EXPECT_NE(r.err.find("element 5"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("overflows F32"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "combined"));
}

}  // namespace
}  // namespace paramdelta
