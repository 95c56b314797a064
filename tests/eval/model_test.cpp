// Loading a model directory (shape checks against config.json, hostile
// inputs) and the key/value cache's equivalence with a full recomputation.
#include "paramdelta/model.h"

#include <gtest/gtest.h>

#include <cmath>

#include "eval_test_models.h"
#include "paramdelta/error.h"
#include "paramdelta/evaluate.h"

namespace paramdelta {
namespace {

using testing::ScratchDir;

std::string load_error(const std::filesystem::path& dir) {
  try {
    Model::load(dir);
  } catch (const Error& e) {
    return format_error_line(e);
  }
  return "(no error)";
}

float max_abs_difference(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  float m = 0;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

class TinyModel : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = testing::tiny_llama_config();
    tensors_ = testing::tiny_llama_tensors(config_);
    testing::write_tiny_model(dir_.path(), config_, tensors_);
  }
  ScratchDir dir_;
  nlohmann::json config_;
  testing::TensorMap tensors_;
};

// A cache owns its keys and values: a copy continues on its own, and one
// made without a model has no room rather than undefined contents.
TEST_F(TinyModel, ACopiedCacheContinuesIndependentlyAndAnEmptyOneIsRefused) {
  Model model = Model::load(dir_.path());
  const std::vector<std::int32_t> prompt{1, 7, 3}, a{49}, b{22};
  KvCache original = model.new_cache(8);
  model.forward(original, prompt);
  KvCache copy = original;
  const std::vector<float> from_original = model.forward(original, a);
  EXPECT_EQ(copy.size(), prompt.size());
  const std::vector<float> from_copy = model.forward(copy, b);
  KvCache fresh = model.new_cache(8);
  model.forward(fresh, prompt);
  EXPECT_EQ(model.forward(fresh, b), from_copy);
  EXPECT_NE(from_original, from_copy);
  EXPECT_EQ(original.size(), 4u);
  EXPECT_EQ(copy.size(), 4u);

  KvCache moved = std::move(original);
  EXPECT_EQ(moved.size(), 4u);
  KvCache empty;
  EXPECT_EQ(empty.size(), 0u);
  EXPECT_EQ(empty.capacity(), 0u);
  try {
    model.forward(empty, a);
    ADD_FAILURE() << "an empty cache was used";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUsage);
    EXPECT_NE(format_error_line(e).find("new_cache"), std::string::npos) << format_error_line(e);
  }
}

TEST_F(TinyModel, IncrementalDecodingMatchesOneBatch) {
  Model model = Model::load(dir_.path());
  const std::vector<std::int32_t> ids{1, 7, 3, 49, 0, 22, 22, 5};
  KvCache batch = model.new_cache(ids.size());
  std::vector<float> all = model.forward(batch, ids, ids.size());
  ASSERT_EQ(batch.size(), ids.size());

  // Prompt of 3, then one token at a time: each step's logits equal the batch's row.
  KvCache cache = model.new_cache(ids.size());
  std::vector<float> step = model.forward(cache, std::span(ids).first(3), 1);
  const std::size_t vocab = 50;
  std::vector<float> expected(all.begin() + 2 * vocab, all.begin() + 3 * vocab);
  EXPECT_LT(max_abs_difference(step, expected), 1e-4);
  for (std::size_t i = 3; i < ids.size(); ++i) {
    step = model.forward(cache, std::span(ids).subspan(i, 1), 1);
    expected.assign(all.begin() + i * vocab, all.begin() + (i + 1) * vocab);
    EXPECT_LT(max_abs_difference(step, expected), 1e-4) << "position " << i;
  }

  // Truncating the cache and feeding other tokens equals computing them from scratch.
  cache.truncate(4);
  const std::vector<std::int32_t> other{1, 7, 3, 49, 8, 9};
  std::vector<float> resumed = model.forward(cache, std::span(other).subspan(4), 2);
  KvCache fresh = model.new_cache(other.size());
  std::vector<float> scratch = model.forward(fresh, other, 2);
  EXPECT_LT(max_abs_difference(resumed, scratch), 1e-4);
}

TEST_F(TinyModel, BatchedDecodingGivesEachSequenceItsOwnLogitsBitForBit) {
  Model model = Model::load(dir_.path());
  const std::size_t vocab = 50;
  // Three sequences at different lengths, so different positions and caches.
  const std::vector<std::vector<std::int32_t>> prompts{{1, 7, 3}, {4}, {9, 9, 8, 2, 5, 11}};
  const std::vector<std::int32_t> next{6, 12, 40};
  auto prefilled = [&](std::size_t i) {
    KvCache cache = model.new_cache(16);
    model.forward(cache, prompts[i], 1);
    return cache;
  };
  std::vector<KvCache> caches;
  for (std::size_t i = 0; i < prompts.size(); ++i) caches.push_back(prefilled(i));
  std::vector<KvCache*> pointers{&caches[0], &caches[1], &caches[2]};
  const std::vector<float> together = model.decode(pointers, next);
  ASSERT_EQ(together.size(), 3 * vocab);
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    EXPECT_EQ(caches[i].size(), prompts[i].size() + 1);
    KvCache alone = prefilled(i);
    KvCache* one = &alone;
    const std::vector<float> single = model.decode(std::span(&one, 1), std::span(&next[i], 1));
    const std::vector<float> row(together.begin() + i * vocab, together.begin() + (i + 1) * vocab);
    EXPECT_EQ(single, row) << "sequence " << i << " alone differs from its row in the batch";
    // The BLAS path on the same token agrees to rounding.
    KvCache reference = prefilled(i);
    EXPECT_LT(max_abs_difference(model.forward(reference, std::span(&next[i], 1), 1), row), 1e-4);
  }
  // A second step continues each sequence where it was.
  const std::vector<std::int32_t> then{3, 3, 3};
  const std::vector<float> second = model.decode(pointers, then);
  KvCache check = prefilled(2);
  std::vector<std::int32_t> both{next[2], then[2]};
  EXPECT_LT(max_abs_difference(model.forward(check, both, 1),
                               std::vector<float>(second.begin() + 2 * vocab, second.end())),
            1e-4);
}

TEST_F(TinyModel, BatchedDecodingRefusesBadBatches) {
  Model model = Model::load(dir_.path());
  KvCache a = model.new_cache(2), b = model.new_cache(1);
  const std::vector<std::int32_t> two{1, 2};
  std::vector<KvCache*> same{&a, &a};
  EXPECT_THROW(model.decode(same, two), Error);
  std::vector<KvCache*> one{&a};
  EXPECT_THROW(model.decode(one, two), Error);
  std::vector<KvCache*> pair{&a, &b};
  const std::vector<std::int32_t> out_of_range{1, 50};
  EXPECT_THROW(model.decode(pair, out_of_range), Error);
  EXPECT_EQ(a.size(), 0u);  // nothing was appended by a refused step
  model.decode(pair, two);
  try {
    model.decode(pair, two);  // b holds one position and is full
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("context full"), std::string::npos);
  }
}

TEST_F(TinyModel, DifferentTokensGiveDifferentLogits) {
  // Guards the test above against a model that ignores its input.
  Model model = Model::load(dir_.path());
  KvCache a = model.new_cache(2), b = model.new_cache(2);
  std::vector<std::int32_t> x{1, 2}, y{1, 3};
  EXPECT_GT(max_abs_difference(model.forward(a, x), model.forward(b, y)), 1e-2);
}

TEST_F(TinyModel, AHugeCapacityCostsNothingUntilUsed) {
  Model model = Model::load(dir_.path());
  const std::vector<std::int32_t> ids{3, 1, 4, 1, 5, 9, 2, 6};
  KvCache huge = model.new_cache(std::size_t{1} << 40);  // 2^40 positions would need petabytes up front
  KvCache exact = model.new_cache(ids.size());
  std::vector<float> a = model.forward(huge, std::span(ids).first(5), 1);
  for (std::size_t i = 5; i < ids.size(); ++i) a = model.forward(huge, std::span(ids).subspan(i, 1), 1);
  EXPECT_LT(max_abs_difference(a, model.forward(exact, ids, 1)), 1e-4);
}

TEST_F(TinyModel, RefusesOutOfRangeTokensAndAFullContext) {
  Model model = Model::load(dir_.path());
  KvCache cache = model.new_cache(3);
  std::vector<std::int32_t> bad{1, 50};
  EXPECT_THROW(model.forward(cache, bad), Error);
  std::vector<std::int32_t> negative{-1};
  EXPECT_THROW(model.forward(cache, negative), Error);
  std::vector<std::int32_t> four{1, 2, 3, 4};
  try {
    model.forward(cache, four);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("context full"), std::string::npos);
  }
}

TEST_F(TinyModel, PerplexityOfIdsEqualsTheMeanNegativeLogLikelihood) {
  Model model = Model::load(dir_.path());
  const std::vector<std::int32_t> ids{1, 7, 3, 49, 0, 22, 22, 5, 9, 10};
  KvCache cache = model.new_cache(ids.size());
  std::vector<float> logits = model.forward(cache, ids, ids.size());
  double nll = 0;
  for (std::size_t j = 1; j < ids.size(); ++j) {
    const float* row = logits.data() + (j - 1) * 50;
    double m = row[0], total = 0;
    for (int v = 0; v < 50; ++v) m = std::max(m, static_cast<double>(row[v]));
    for (int v = 0; v < 50; ++v) total += std::exp(row[v] - m);
    nll += m + std::log(total) - row[ids[j]];
  }
  PerplexityResult r = perplexity_of_ids(model, ids, PerplexityOptions{});
  EXPECT_EQ(r.tokens_scored, ids.size() - 1);
  EXPECT_EQ(r.windows, 1u);
  EXPECT_NEAR(r.perplexity, std::exp(nll / (ids.size() - 1)), 1e-4 * r.perplexity);

  // Windows of 4 every 2 tokens: every token after the first is still scored once.
  PerplexityResult windowed = perplexity_of_ids(model, ids, PerplexityOptions{4, 2});
  EXPECT_EQ(windowed.tokens_scored, ids.size() - 1);
  EXPECT_EQ(windowed.windows, 4u);  // [0,4) [2,6) [4,8) [6,10)
  // Non-overlapping windows skip each window's first token: 10 tokens in windows of 4 score 3+3+1.
  PerplexityResult blocks = perplexity_of_ids(model, ids, PerplexityOptions{4, 4});
  EXPECT_EQ(blocks.tokens_scored, 7u);

  EXPECT_THROW(perplexity_of_ids(model, ids, PerplexityOptions{4, 5}), Error);  // stride > window
  EXPECT_THROW(perplexity_of_ids(model, std::span(ids).first(1), PerplexityOptions{}), Error);
}

TEST_F(TinyModel, MissingLmHeadMeansTiedEmbeddings) {
  tensors_.erase("lm_head.weight");
  testing::write_tiny_model(dir_.path(), config_, tensors_);
  Model model = Model::load(dir_.path());
  EXPECT_TRUE(model.config().tie_word_embeddings);
  ASSERT_EQ(model.notes().size(), 1u);
  EXPECT_NE(model.notes()[0].find("tied"), std::string::npos);
  // Tied logits are the final hidden state dotted with the embedding rows:
  // compare with the logits of a model whose lm_head is a copy of the embedding.
  tensors_["lm_head.weight"] = tensors_["model.embed_tokens.weight"];
  ScratchDir copy;
  testing::write_tiny_model(copy.path(), config_, tensors_);
  Model untied = Model::load(copy.path());
  KvCache a = model.new_cache(3), b = untied.new_cache(3);
  std::vector<std::int32_t> ids{4, 5, 6};
  EXPECT_LT(max_abs_difference(model.forward(a, ids), untied.forward(b, ids)), 1e-6);
}

TEST_F(TinyModel, ShapeMismatchNamesTheTensorAndBothShapes) {
  tensors_["model.layers.1.self_attn.k_proj.weight"].shape = {16, 8};
  testing::write_tiny_model(dir_.path(), config_, tensors_);
  std::string e = load_error(dir_.path());
  EXPECT_NE(e.find("model.layers.1.self_attn.k_proj.weight"), std::string::npos) << e;
  EXPECT_NE(e.find("[16, 8]"), std::string::npos) << e;
  EXPECT_NE(e.find("[8, 16]"), std::string::npos) << e;
}

TEST_F(TinyModel, AConfigClaimingHugeSizesFailsOnShapesNotAllocation) {
  config_["intermediate_size"] = 1 << 20;
  testing::write_tiny_model(dir_.path(), config_, tensors_);
  std::string e = load_error(dir_.path());
  EXPECT_NE(e.find("mlp.gate_proj.weight"), std::string::npos) << e;
  EXPECT_NE(e.find("does not match config.json"), std::string::npos) << e;
}

TEST_F(TinyModel, MissingTensorNonFloatDtypeAndNonFiniteWeightsAreErrors) {
  auto broken = tensors_;
  broken.erase("model.layers.0.mlp.up_proj.weight");
  testing::write_tiny_model(dir_.path(), config_, broken);
  std::string e = load_error(dir_.path());
  EXPECT_NE(e.find("model.layers.0.mlp.up_proj.weight"), std::string::npos) << e;
  EXPECT_NE(e.find("missing"), std::string::npos) << e;

  broken = tensors_;
  auto& norm = broken["model.norm.weight"];
  norm.dtype = "I32";
  norm.raw.assign(norm.values.size() * 4, '\0');
  testing::write_tiny_model(dir_.path(), config_, broken);
  e = load_error(dir_.path());
  EXPECT_NE(e.find("model.norm.weight"), std::string::npos) << e;
  EXPECT_NE(e.find("not a floating-point type"), std::string::npos) << e;

  broken = tensors_;
  broken["model.layers.1.mlp.down_proj.weight"].values[17] = NAN;
  testing::write_tiny_model(dir_.path(), config_, broken);
  e = load_error(dir_.path());
  EXPECT_NE(e.find("model.layers.1.mlp.down_proj.weight"), std::string::npos) << e;
  EXPECT_NE(e.find("NaN"), std::string::npos) << e;
}

TEST_F(TinyModel, NoConfigJsonIsAClearError) {
  std::filesystem::remove(dir_.path() / "config.json");
  EXPECT_NE(load_error(dir_.path()).find("no config.json"), std::string::npos);
}

TEST_F(TinyModel, Qwen2BiasesAreRequiredAndUsed) {
  config_["architectures"] = {"Qwen2ForCausalLM"};
  config_["model_type"] = "qwen2";
  auto with_bias = testing::tiny_llama_tensors(config_);
  auto without_bias = with_bias;
  without_bias.erase("model.layers.0.self_attn.v_proj.bias");
  testing::write_tiny_model(dir_.path(), config_, without_bias);
  EXPECT_NE(load_error(dir_.path()).find("model.layers.0.self_attn.v_proj.bias"), std::string::npos);

  testing::write_tiny_model(dir_.path(), config_, with_bias);
  Model biased = Model::load(dir_.path());
  for (auto& [name, t] : with_bias) {
    if (name.find(".bias") != std::string::npos) std::fill(t.values.begin(), t.values.end(), 0.0f);
  }
  ScratchDir zero;
  testing::write_tiny_model(zero.path(), config_, with_bias);
  Model unbiased = Model::load(zero.path());
  KvCache a = biased.new_cache(3), b = unbiased.new_cache(3);
  std::vector<std::int32_t> ids{4, 5, 6};
  EXPECT_GT(max_abs_difference(biased.forward(a, ids), unbiased.forward(b, ids)), 1e-3);
}

TEST_F(TinyModel, GenerationConfigAddsEndOfSequenceTokens) {
  testing::write_file(dir_.path() / "generation_config.json", R"({"eos_token_id": [2, 7]})");
  EXPECT_EQ(Model::load(dir_.path()).config().eos_token_ids, (std::vector<std::int32_t>{2, 7}));
  testing::write_file(dir_.path() / "generation_config.json", R"({"eos_token_id": "x"})");
  EXPECT_NE(load_error(dir_.path()).find("generation_config.json"), std::string::npos);
}

}  // namespace
}  // namespace paramdelta
