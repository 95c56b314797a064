// apply's options: scale, output dtype, the compact lossy delta, the files
// around the weights, and existing outputs.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "delta/delta_test_support.h"

namespace paramdelta {
namespace {

namespace fs = std::filesystem;
using namespace testing;

class ScaledApply : public ::testing::TestWithParam<DType> {};

TEST_P(ScaledApply, MatchesBasePlusScaleTimesTheExactDeltaRoundedOnce) {
  const DType dtype = GetParam();
  ScratchDir dir;
  // Larger post-training changes than usual, so that the scale matters at bf16 precision.
  const TensorMap base = base_tensors(dtype),
                  post = llama_tensors(dtype, kLayers, kHidden, kVocab, 1, false, 0.05, 9);
  write_model(dir / "base", base, config_for(kVocab, false));
  write_model(dir / "post", post, config_for(kVocab, false));
  // A different new base: the same architecture, other values.
  write_model(dir / "new", llama_tensors(dtype, kLayers, kHidden, kVocab, 5), config_for(kVocab, false));
  compute_delta(compute_options(dir / "base", dir / "post", dir / "delta"));
  for (double scale : {0.5, 1.3, -1.0}) {
    const fs::path out = dir / ("out" + std::to_string(static_cast<int>(scale * 10)));
    auto ao = apply_options(dir / "new", dir / "delta", out);
    ao.scale = scale;
    apply_delta(ao);
    std::uint64_t total = 0, not_nearest = 0;
    for (const auto& [name, bytes] : read_all_bytes(dir / "new")) {
      const ReadTensor nb = read_tensor(dir / "new", name);
      const ReadTensor got = read_tensor(out, name);
      ASSERT_EQ(got.dtype, dtype) << name;
      ASSERT_EQ(got.shape, nb.shape) << name;
      const auto delta = exact_delta(dir / "delta", name);
      for (std::size_t i = 0; i < got.values.size(); ++i) {
        // Math in fp32: the scale itself is rounded to float, except for the
        // exception elements, which apply computes in double.
        const long double want = static_cast<long double>(nb.values[i]) + scale * delta[i];
        const long double want_f =
            static_cast<long double>(nb.values[i]) + static_cast<float>(scale) * delta[i];
        const long double err = std::min(std::fabs(got.values[i] - want), std::fabs(got.values[i] - want_f));
        // fp32 arithmetic before the one rounding to the output dtype.
        const long double slack =
            std::ldexp(std::fabs(static_cast<long double>(nb.values[i])) + std::fabs(scale * delta[i]), -22);
        ASSERT_LE(err, ulp_in(dtype, got.values[i]) / 2 + slack) << name << "[" << i << "] scale " << scale;
        not_nearest += err > ulp_in(dtype, got.values[i]) / 2;
        ++total;
      }
    }
    // Rounding twice (fp32, then the output dtype) rarely misses the nearest
    // 16-bit value; in f32 output the fp32 arithmetic is the only rounding.
    if (dtype != DType::kF32) {
      EXPECT_LT(not_nearest, total / 100 + 1) << "scale " << scale;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, ScaledApply, ::testing::Values(DType::kBF16, DType::kF16, DType::kF32),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST(ApplyScale, ZeroScaleGivesTheNewBaseBackExactly) {
  ScratchDir dir;
  write_model(dir / "base", base_tensors(DType::kBF16), config_for(kVocab, false));
  write_model(dir / "post", post_tensors(DType::kBF16), config_for(kVocab, false));
  compute_delta(compute_options(dir / "base", dir / "post", dir / "delta"));
  auto ao = apply_options(dir / "base", dir / "delta", dir / "out");
  ao.scale = 0.0;
  apply_delta(ao);
  expect_identical_models(dir / "out", dir / "base");
}

TEST(ApplyScale, NonFiniteScaleIsAUsageError) {
  ScratchDir dir;
  auto ao = apply_options(dir / "base", dir / "delta", dir / "out");
  ao.scale = std::nan("");
  expect_error([&] { apply_delta(ao); }, ErrorKind::kUsage, {"scale must be a finite number"});
  EXPECT_FALSE(fs::exists(dir / "out"));
}

TEST(ApplyDtype, F32OutputHoldsTheUnroundedSumsAndRoundsBackToThePost) {
  ScratchDir dir;
  TensorMap base = base_tensors(DType::kBF16), post = post_tensors(DType::kBF16);
  inject_adversarial(base, post, "model.layers.0.mlp.up_proj.weight");
  write_model(dir / "base", base, config_for(kVocab, false));
  write_model(dir / "post", post, config_for(kVocab, false));
  compute_delta(compute_options(dir / "base", dir / "post", dir / "delta"));
  auto ao = apply_options(dir / "base", dir / "delta", dir / "out");
  ao.dtype = DType::kF32;
  apply_delta(ao);
  for (const auto& [name, bytes] : read_all_bytes(dir / "post")) {
    const ReadTensor got = read_tensor(dir / "out", name);
    const ReadTensor want = read_tensor(dir / "post", name);
    ASSERT_EQ(got.dtype, DType::kF32) << name;
    const auto narrowed = encode_values(DType::kBF16, got.values);
    EXPECT_TRUE(narrowed == want.raw) << name << ": rounding the f32 output to bf16 must give the post model";
  }
  const auto config = nlohmann::json::parse(read_file(dir / "out" / "config.json"));
  EXPECT_EQ(config["torch_dtype"], "float32");
}

TEST(ApplyDtype, IntegerTensorsKeepTheirDtypeWhateverTheOutputDtype) {
  ScratchDir dir;
  TensorMap base = base_tensors(DType::kBF16), post = post_tensors(DType::kBF16);
  base["model.position_ids"] = {DType::kI64, {4}, {0, 1, 2, 3}, {}};
  post["model.position_ids"] = {DType::kI64, {4}, {0, 1, 2, 3}, {}};
  write_model(dir / "base", base, config_for(kVocab, false));
  write_model(dir / "post", post, config_for(kVocab, false));
  compute_delta(compute_options(dir / "base", dir / "post", dir / "delta"));
  auto ao = apply_options(dir / "base", dir / "delta", dir / "out");
  ao.dtype = DType::kF16;
  apply_delta(ao);
  EXPECT_EQ(read_tensor(dir / "out", "model.position_ids").dtype, DType::kI64);
  EXPECT_EQ(read_tensor(dir / "out", "model.norm.weight").dtype, DType::kF16);
}

class CompactDelta : public ::testing::TestWithParam<std::pair<DType, DType>> {};

TEST_P(CompactDelta, StoresEachDifferenceRoundedToNearestWithoutExceptions) {
  const auto [model_dtype, delta_dtype] = GetParam();
  ScratchDir dir;
  write_model(dir / "base", base_tensors(model_dtype), config_for(kVocab, false));
  write_model(dir / "post", post_tensors(model_dtype), config_for(kVocab, false));
  auto co = compute_options(dir / "base", dir / "post", dir / "delta");
  co.delta_dtype = delta_dtype;
  const OperationSummary s = compute_delta(co);
  EXPECT_FALSE(s.lossless);
  EXPECT_EQ(s.encoding, "plain");
  EXPECT_EQ(s.exception_elements, 0u);
  EXPECT_FALSE(fs::exists(dir / "delta" / "exceptions.safetensors"));
  const auto manifest = nlohmann::json::parse(read_file(dir / "delta" / "paramdelta.json"));
  EXPECT_EQ(manifest["encoding"]["name"], "plain");
  EXPECT_EQ(manifest["encoding"]["lossless"], false);
  for (const auto& [name, bytes] : read_all_bytes(dir / "post")) {
    const ReadTensor b = read_tensor(dir / "base", name), p = read_tensor(dir / "post", name);
    const ReadTensor d = read_tensor(dir / "delta", name, "delta");
    ASSERT_EQ(d.dtype, delta_dtype) << name;
    for (std::size_t i = 0; i < d.values.size(); ++i) {
      const long double exact = static_cast<long double>(p.values[i]) - b.values[i];
      const long double bound =
          ulp_in(delta_dtype, d.values[i] != 0 ? d.values[i] : exact) / 2 + std::ldexp(std::fabs(exact), -24);
      ASSERT_LE(std::fabs(d.values[i] - exact), bound) << name << "[" << i << "]";
    }
  }
  // The lossy delta still applies, within its bound of the post model.
  apply_delta(apply_options(dir / "base", dir / "delta", dir / "out"));
  for (const auto& [name, bytes] : read_all_bytes(dir / "post")) {
    const ReadTensor out = read_tensor(dir / "out", name), p = read_tensor(dir / "post", name);
    const ReadTensor d = read_tensor(dir / "delta", name, "delta");
    for (std::size_t i = 0; i < p.values.size(); ++i) {
      const long double bound = ulp_in(delta_dtype, d.values[i]) / 2 + ulp_in(model_dtype, p.values[i]) +
                                std::ldexp(std::fabs(p.values[i]), -22);
      ASSERT_LE(std::fabs(static_cast<long double>(out.values[i]) - p.values[i]), bound)
          << name << "[" << i << "]";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Pairs, CompactDelta,
                         ::testing::Values(std::pair{DType::kF32, DType::kBF16},
                                           std::pair{DType::kF32, DType::kF16},
                                           std::pair{DType::kBF16, DType::kF16}),
                         [](const auto& info) {
                           return std::string(dtype_name(info.param.first)) + "_to_" +
                                  std::string(dtype_name(info.param.second));
                         });

TEST(CompactDelta, IntegerDeltaDtypeIsAUsageError) {
  ScratchDir dir;
  auto co = compute_options(dir / "base", dir / "post", dir / "delta");
  co.delta_dtype = DType::kI32;
  expect_error([&] { compute_delta(co); }, ErrorKind::kUsage, {"delta_dtype must be"});
}

// Companion files: a chat model needs the post model's tokenizer and chat template.
void write_companions(const fs::path& dir, const std::string& tag) {
  write_file(dir / "tokenizer.json", "{\"tokenizer\": \"" + tag + "\"}");
  write_file(dir / "tokenizer_config.json", "{\"chat_template\": \"{{ '" + tag + "' }}\"}");
  write_file(dir / "special_tokens_map.json", "{\"eos_token\": \"</" + tag + ">\"}");
  write_file(dir / "generation_config.json", "{\"source\": \"" + tag + "\"}");
}

TEST(ApplyModelFiles, ConfigFromTheNewBaseTokenizerAndGenerationConfigFromTheDelta) {
  ScratchDir dir;
  write_model(dir / "base", base_tensors(DType::kBF16), config_for(kVocab, false));
  write_model(dir / "post", post_tensors(DType::kBF16), config_for(kVocab, false));
  write_companions(dir / "base", "base");
  write_companions(dir / "post", "post");
  write_file(dir / "post" / "chat_template.jinja", "{{ messages }}");
  compute_delta(compute_options(dir / "base", dir / "post", dir / "delta"));
  for (const char* f : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                        "chat_template.jinja", "generation_config.json"}) {
    EXPECT_EQ(read_file(dir / "delta" / f), read_file(dir / "post" / f)) << f;
  }
  EXPECT_EQ(read_file(dir / "delta" / "post_config.json"), read_file(dir / "post" / "config.json"));

  // The new base has a different config (an extra key) to tell them apart.
  write_model(dir / "new", base_tensors(DType::kBF16),
              "{\"model_type\": \"llama\", \"marker\": \"new-base\"}");
  write_companions(dir / "new", "new");
  apply_delta(apply_options(dir / "new", dir / "delta", dir / "out"));
  EXPECT_EQ(nlohmann::json::parse(read_file(dir / "out" / "config.json"))["marker"], "new-base");
  for (const char* f : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                        "chat_template.jinja", "generation_config.json"}) {
    ASSERT_TRUE(fs::exists(dir / "out" / f)) << f;
    EXPECT_EQ(read_file(dir / "out" / f), read_file(dir / "post" / f)) << f;
  }
  EXPECT_FALSE(fs::exists(dir / "out" / "post_config.json"));
  EXPECT_FALSE(fs::exists(dir / "out" / "paramdelta.json"));
}

TEST(ApplyModelFiles, WithoutTokenizerFilesInTheDeltaTheNewBasesAreUsed) {
  ScratchDir dir;
  write_model(dir / "base", base_tensors(DType::kBF16), config_for(kVocab, false));
  write_model(dir / "post", post_tensors(DType::kBF16), config_for(kVocab, false));
  compute_delta(compute_options(dir / "base", dir / "post", dir / "delta"));
  write_companions(dir / "base", "base");
  const OperationSummary s = apply_delta(apply_options(dir / "base", dir / "delta", dir / "out"));
  EXPECT_EQ(read_file(dir / "out" / "tokenizer.json"), read_file(dir / "base" / "tokenizer.json"));
  EXPECT_EQ(read_file(dir / "out" / "generation_config.json"),
            read_file(dir / "base" / "generation_config.json"));
  bool noted = false;
  for (const auto& n : s.notes)
    noted |= n.find("new base") != std::string::npos && n.find("tokenizer") != std::string::npos;
  EXPECT_TRUE(noted);
}

TEST(ExistingOutput, IsAnErrorWithoutForceAndIsLeftUntouched) {
  ScratchDir dir;
  write_model(dir / "base", base_tensors(DType::kBF16), config_for(kVocab, false));
  write_model(dir / "post", post_tensors(DType::kBF16), config_for(kVocab, false));
  fs::create_directory(dir / "delta");
  write_file(dir / "delta" / "keep.txt", "mine");
  expect_error([&] { compute_delta(compute_options(dir / "base", dir / "post", dir / "delta")); },
               ErrorKind::kExists, {(dir / "delta").string(), "pass force=true to replace it"});
  EXPECT_EQ(read_file(dir / "delta" / "keep.txt"), "mine");
  write_file(dir / "out.safetensors", "mine");
  compute_delta(compute_options(dir / "base", dir / "post", dir / "d2"));
  expect_error([&] { apply_delta(apply_options(dir / "base", dir / "d2", dir / "out.safetensors")); },
               ErrorKind::kExists, {"out.safetensors"});
  EXPECT_EQ(read_file(dir / "out.safetensors"), "mine");
}

TEST(ExistingOutput, IsReplacedWithForce) {
  ScratchDir dir;
  write_model(dir / "base", base_tensors(DType::kBF16), config_for(kVocab, false));
  write_model(dir / "post", post_tensors(DType::kBF16), config_for(kVocab, false));
  fs::create_directory(dir / "delta");  // an earlier delta, sharded differently
  write_file(dir / "delta" / "paramdelta.json", "old");
  write_file(dir / "delta" / "delta-00003-of-00003.safetensors", "old");
  auto co = compute_options(dir / "base", dir / "post", dir / "delta");
  co.run.force = true;
  compute_delta(co);
  EXPECT_FALSE(fs::exists(dir / "delta" / "delta-00003-of-00003.safetensors"));
  EXPECT_TRUE(fs::exists(dir / "delta" / "paramdelta.json"));
  write_file(dir / "out.safetensors", "old");
  auto ao = apply_options(dir / "base", dir / "delta", dir / "out.safetensors");
  ao.run.force = true;
  apply_delta(ao);
  EXPECT_TRUE(read_all_bytes(dir / "out.safetensors") == read_all_bytes(dir / "post"));
}

TEST(FailedRuns, LeaveNoOutputAndNoTemporaryFiles) {
  ScratchDir dir;
  TensorMap post = post_tensors(DType::kBF16);
  post["model.norm.weight"].values[3] = std::nan("");
  write_model(dir / "base", base_tensors(DType::kBF16), config_for(kVocab, false));
  write_model(dir / "post", post, config_for(kVocab, false));
  EXPECT_THROW(compute_delta(compute_options(dir / "base", dir / "post", dir / "delta")), Error);
  EXPECT_THROW(compute_delta(compute_options(dir / "base", dir / "post", dir / "delta.safetensors")), Error);
  EXPECT_EQ(entries_in(dir.path()), 2u) << "only base/ and post/ may remain";
}

}  // namespace
}  // namespace paramdelta
