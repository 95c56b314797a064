// combine: weighted sums of deltas and chains of updates.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <random>

#include "delta/delta_test_support.h"

namespace paramdelta {
namespace {

namespace fs = std::filesystem;
using namespace testing;

// B, P1 = B + noise, P2 = P1 + more noise: two successive post-trainings.
void write_chain(const fs::path& dir, DType dtype) {
  TensorMap b = base_tensors(dtype);
  TensorMap p1 = post_tensors(dtype, false, kVocab, 7);
  TensorMap p2 = p1;
  std::mt19937_64 rng(21);
  std::normal_distribution<double> g(0.0, 0.002);
  for (auto& [name, t] : p2) {
    const auto rounded = decode_values(dtype, encode_values(dtype, t.values));
    for (std::size_t i = 0; i < t.values.size(); ++i) t.values[i] = rounded[i] + g(rng);
  }
  write_model(dir / "B", b, config_for(kVocab, false));
  write_model(dir / "P1", p1, config_for(kVocab, false));
  write_model(dir / "P2", p2, config_for(kVocab, false));
  compute_delta(compute_options(dir / "B", dir / "P1", dir / "d1"));
  compute_delta(compute_options(dir / "P1", dir / "P2", dir / "d2"));
}

CombineOptions combine_options(std::vector<fs::path> deltas, const fs::path& out) {
  CombineOptions o;
  for (const auto& d : deltas) o.deltas.push_back(d.string());
  o.output = out;
  o.run.threads = 2;
  return o;
}

TEST(Combine, TheSumOfAChainAppliedOnceEqualsApplyingTheChainStepByStep) {
  ScratchDir dir;
  write_chain(dir.path(), DType::kBF16);
  auto co = combine_options({dir / "d1", dir / "d2"}, dir / "sum");
  co.delta_dtype = DType::kF32;
  const OperationSummary s = combine_deltas(co);
  EXPECT_EQ(s.operation, "combine");
  EXPECT_FALSE(s.lossless);
  apply_delta(apply_options(dir / "B", dir / "sum", dir / "once"));
  apply_delta(apply_options(dir / "B", dir / "d1", dir / "step1"));
  apply_delta(apply_options(dir / "step1", dir / "d2", dir / "step2"));
  expect_identical_models(dir / "step2", dir / "P2");  // each step is lossless

  // A lossless delta's stored values are the differences rounded to bf16 (it
  // is the exception list that makes each step exact), so the summed delta
  // carries both rounding errors: within half an ulp of each delta, plus the
  // final rounding; and most elements still come out exactly.
  std::uint64_t total = 0, differ = 0;
  for (const auto& [name, bytes] : read_all_bytes(dir / "P2")) {
    const ReadTensor once = read_tensor(dir / "once", name), want = read_tensor(dir / "P2", name);
    const ReadTensor d1 = read_tensor(dir / "d1", name, "delta"), d2 = read_tensor(dir / "d2", name, "delta");
    for (std::size_t i = 0; i < want.values.size(); ++i) {
      ++total;
      if (once.values[i] == want.values[i]) continue;
      ++differ;
      const long double bound = ulp_in(DType::kBF16, d1.values[i]) / 2 +
                                ulp_in(DType::kBF16, d2.values[i]) / 2 + ulp_in(DType::kBF16, want.values[i]);
      EXPECT_LE(std::fabs(static_cast<long double>(once.values[i]) - want.values[i]), bound)
          << name << "[" << i << "]";
    }
  }
  EXPECT_LT(differ, total / 50) << differ << " of " << total;
}

TEST(Combine, WeightedSumMatchesTheExactDifferences) {
  ScratchDir dir;
  write_chain(dir.path(), DType::kBF16);
  auto co = combine_options({dir / "d1", dir / "d2"}, dir / "mix");
  co.weights = {0.5, 2.0};
  co.delta_dtype = DType::kF32;
  combine_deltas(co);
  const auto manifest = nlohmann::json::parse(read_file(dir / "mix" / "paramdelta.json"));
  EXPECT_EQ(manifest["operation"], "combine");
  EXPECT_EQ(manifest["encoding"]["lossless"], false);
  EXPECT_EQ(manifest["combine_weights"], nlohmann::json::array({0.5, 2.0}));
  EXPECT_EQ(manifest["combined_from"].size(), 2u);
  // Each delta's exact value is its stored value, or post − base where it
  // lists an exception; the combination is their weighted sum, rounded once to f32.
  for (const auto& [name, bytes] : read_all_bytes(dir / "P2")) {
    const auto d1 = exact_delta(dir / "d1", name), d2 = exact_delta(dir / "d2", name);
    const ReadTensor c = read_tensor(dir / "mix", name, "delta");
    ASSERT_EQ(c.dtype, DType::kF32);
    for (std::size_t i = 0; i < c.values.size(); ++i) {
      const long double want = 0.5L * d1[i] + 2.0L * d2[i];
      EXPECT_LE(std::fabs(c.values[i] - want),
                std::ldexp(std::fabs(0.5L * d1[i]) + std::fabs(2.0L * d2[i]), -21))
          << name << "[" << i << "]";
    }
  }
}

TEST(Combine, ExceptionElementsWhoseStoredDeltaOverflowedStillCombineExactly) {
  // max − (−max) overflows the delta dtype: the stored delta is infinite and
  // only the exception list knows the true difference. Weighted down, the
  // combination is finite and must come out right.
  ScratchDir dir;
  TensorMap base = base_tensors(DType::kBF16), post = post_tensors(DType::kBF16);
  inject_adversarial(base, post, "model.layers.0.mlp.up_proj.weight");
  write_model(dir / "B", base, config_for(kVocab, false));
  write_model(dir / "P", post, config_for(kVocab, false));
  compute_delta(compute_options(dir / "B", dir / "P", dir / "d"));
  auto co = combine_options({dir / "d", dir / "d"}, dir / "mix");
  co.weights = {0.25, 0.125};
  co.delta_dtype = DType::kF32;
  combine_deltas(co);
  const auto exact = exact_delta(dir / "d", "model.layers.0.mlp.up_proj.weight");
  const ReadTensor c = read_tensor(dir / "mix", "model.layers.0.mlp.up_proj.weight", "delta");
  for (std::size_t i = 0; i < c.values.size(); ++i) {
    const long double want = 0.375L * exact[i];
    EXPECT_LE(std::fabs(c.values[i] - want), std::ldexp(std::fabs(want), -21)) << i;
  }
}

TEST(Combine, DefaultsToTheFirstDeltasDtypeAndWritesASingleFile) {
  ScratchDir dir;
  write_chain(dir.path(), DType::kBF16);
  combine_deltas(combine_options({dir / "d1", dir / "d2"}, dir / "sum.safetensors"));
  const ReadTensor t = read_tensor(dir / "sum.safetensors", "model.norm.weight");
  EXPECT_EQ(t.dtype, DType::kBF16);
  apply_delta(apply_options(dir / "B", dir / "sum.safetensors", dir / "out"));
  const VerifyReport r = verify_delta(verify_options(dir / "B", dir / "sum.safetensors", dir / "P2"));
  EXPECT_LT(r.total_differing, r.total_elements / 10);
}

TEST(Combine, CarriesTheTokenizerOfTheLastDeltaThatHasOne) {
  ScratchDir dir;
  write_chain(dir.path(), DType::kBF16);
  write_file(dir / "d2" / "tokenizer.json", "{\"v\": 2}");
  const OperationSummary s = combine_deltas(combine_options({dir / "d1", dir / "d2"}, dir / "sum"));
  EXPECT_EQ(read_file(dir / "sum" / "tokenizer.json"), "{\"v\": 2}");
  EXPECT_FALSE(s.notes.empty());
}

TEST(Combine, DeltasOverDifferentTensorsAreAMismatchNamingTheTensorAndFile) {
  ScratchDir dir;
  write_chain(dir.path(), DType::kBF16);
  TensorMap p = post_tensors(DType::kBF16);
  p["model.extra.weight"] = {DType::kBF16, {2}, {1, 2}, {}};
  write_model(dir / "P3", p, config_for(kVocab, false));
  compute_delta(compute_options(dir / "B", dir / "P3", dir / "d3"));
  const Error e = expect_error(
      [&] {
        combine_deltas(combine_options({dir / "d1", dir / "d3"}, dir / "out"));
      },
      ErrorKind::kMismatch, {"model.extra.weight"});
  EXPECT_EQ(e.context().file, (dir / "d3").string());
  EXPECT_FALSE(fs::exists(dir / "out"));
}

TEST(Combine, DeltasWithDifferentShapesAreAMismatch) {
  ScratchDir dir;
  write_chain(dir.path(), DType::kBF16);
  write_model(dir / "W", llama_tensors(DType::kBF16, kLayers, 2 * kHidden, kVocab, 1),
              config_for(kVocab, false));
  write_model(dir / "W2", llama_tensors(DType::kBF16, kLayers, 2 * kHidden, kVocab, 1, false, 0.01, 3),
              config_for(kVocab, false));
  compute_delta(compute_options(dir / "W", dir / "W2", dir / "dw"));
  expect_error(
      [&] {
        combine_deltas(combine_options({dir / "d1", dir / "dw"}, dir / "out"));
      },
      ErrorKind::kMismatch, {", 32]", ", 16]"});
}

TEST(Combine, UsageErrors) {
  ScratchDir dir;
  write_chain(dir.path(), DType::kBF16);
  expect_error([&] { combine_deltas(combine_options({dir / "d1"}, dir / "out")); }, ErrorKind::kUsage,
               {"two"});
  auto co = combine_options({dir / "d1", dir / "d2"}, dir / "out");
  co.weights = {1.0};
  expect_error([&] { combine_deltas(co); }, ErrorKind::kUsage, {"got 1 weights (weights) for 2 deltas"});
  co.weights = {1.0, std::nan("")};
  expect_error([&] { combine_deltas(co); }, ErrorKind::kUsage, {"finite"});
  auto model_as_delta = combine_options({dir / "d1", dir / "P1"}, dir / "out");
  expect_error([&] { combine_deltas(model_as_delta); }, ErrorKind::kUsage, {"not a paramdelta delta"});
  EXPECT_FALSE(fs::exists(dir / "out"));
}

}  // namespace
}  // namespace paramdelta
