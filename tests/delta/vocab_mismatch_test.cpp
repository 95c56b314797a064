// Vocabulary size differences on embedding and head tensors.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "delta/delta_test_support.h"

namespace paramdelta {
namespace {

namespace fs = std::filesystem;
using namespace testing;

const char* kHead = "lm_head.weight";
const char* kEmbed = "model.embed_tokens.weight";

// Rows [begin, end) of a [rows, kHidden] tensor as raw bytes.
std::vector<std::byte> rows(const ReadTensor& t, std::uint64_t begin, std::uint64_t end) {
  const std::size_t row_bytes = t.raw.size() / t.shape[0];
  return {t.raw.begin() + static_cast<std::ptrdiff_t>(begin * row_bytes),
          t.raw.begin() + static_cast<std::ptrdiff_t>(end * row_bytes)};
}

// A post model with `extra` more vocabulary rows than the base: the same
// noise on the shared rows, new rows for the added tokens.
void write_pair(const fs::path& dir, int base_vocab, int post_vocab, DType dtype = DType::kBF16) {
  write_model(dir / "base", base_tensors(dtype, false, base_vocab), config_for(base_vocab, false));
  write_model(dir / "post", post_tensors(dtype, false, post_vocab), config_for(post_vocab, false));
}

TEST(VocabMismatch, IsAnErrorByDefaultNamingTheTensorBothSizesAndTheOption) {
  ScratchDir dir;
  write_pair(dir.path(), 24, 28);
  const Error e =
      expect_error([&] { compute_delta(compute_options(dir / "base", dir / "post", dir / "delta")); },
                   ErrorKind::kMismatch, {"24", "28", "vocab_mismatch=overlap"});
  EXPECT_TRUE(e.context().tensor == kEmbed || e.context().tensor == kHead) << e.context().tensor;
  EXPECT_FALSE(fs::exists(dir / "delta"));
}

TEST(VocabMismatch, SmallerPostVocabularyIsAlsoAnErrorByDefault) {
  ScratchDir dir;
  write_pair(dir.path(), 28, 24);
  expect_error([&] { compute_delta(compute_options(dir / "base", dir / "post", dir / "delta")); },
               ErrorKind::kMismatch, {"28", "24", "vocab_mismatch"});
}

TEST(VocabMismatch, OverlapWithALargerPostVocabularyReproducesThePost) {
  ScratchDir dir;
  write_pair(dir.path(), 24, 28);
  auto co = compute_options(dir / "base", dir / "post", dir / "delta");
  co.vocab_mismatch = VocabMismatch::kOverlap;
  compute_delta(co);
  const auto manifest = nlohmann::json::parse(read_file(dir / "delta" / "paramdelta.json"));
  EXPECT_EQ(manifest["tensors"][kEmbed]["delta_rows"], 24);
  EXPECT_EQ(manifest["tensors"][kHead]["delta_rows"], 24);
  EXPECT_EQ(manifest["policies"]["vocab_mismatch"], "overlap");

  auto ao = apply_options(dir / "base", dir / "delta", dir / "out");
  ao.vocab_mismatch = VocabMismatch::kOverlap;
  apply_delta(ao);
  expect_identical_models(dir / "out", dir / "post");
  EXPECT_EQ(nlohmann::json::parse(read_file(dir / "out" / "config.json"))["vocab_size"], 28);
  EXPECT_TRUE(verify_delta(verify_options(dir / "base", dir / "delta", dir / "post")).exact());
}

TEST(VocabMismatch, OverlapOnANewBaseAddsTheDeltaToSharedRowsAndCopiesThePostOnlyRows) {
  ScratchDir dir;
  write_pair(dir.path(), 24, 28, DType::kF32);
  write_model(dir / "new", llama_tensors(DType::kF32, kLayers, kHidden, 24, 9), config_for(24, false));
  auto co = compute_options(dir / "base", dir / "post", dir / "delta");
  co.vocab_mismatch = VocabMismatch::kOverlap;
  compute_delta(co);
  auto ao = apply_options(dir / "new", dir / "delta", dir / "out");
  ao.vocab_mismatch = VocabMismatch::kOverlap;
  apply_delta(ao);
  for (const char* name : {kEmbed, kHead}) {
    const ReadTensor out = read_tensor(dir / "out", name), post = read_tensor(dir / "post", name);
    const ReadTensor nb = read_tensor(dir / "new", name);
    const auto delta = exact_delta(dir / "delta", name);
    ASSERT_EQ(out.shape, (std::vector<std::uint64_t>{28, kHidden}));
    EXPECT_TRUE(rows(out, 24, 28) == rows(post, 24, 28)) << name << ": the post-only rows are its values";
    for (std::size_t i = 0; i < 24 * kHidden; ++i) {
      EXPECT_EQ(static_cast<float>(out.values[i]), static_cast<float>(nb.values[i] + delta[i]))
          << name << "[" << i << "]";
    }
  }
  EXPECT_EQ(nlohmann::json::parse(read_file(dir / "out" / "config.json"))["vocab_size"], 28);
}

TEST(VocabMismatch, OverlapWithASmallerPostVocabularyKeepsTheNewBasesExtraRows) {
  ScratchDir dir;
  write_pair(dir.path(), 28, 24);
  auto co = compute_options(dir / "base", dir / "post", dir / "delta");
  co.vocab_mismatch = VocabMismatch::kOverlap;
  const OperationSummary s = compute_delta(co);
  bool noted = false;
  for (const auto& n : s.notes)
    noted |= n.find("[24, 28)") != std::string::npos && n.find("keeps") != std::string::npos;
  EXPECT_TRUE(noted) << "the summary says what happens to the rows only the base has";
  auto ao = apply_options(dir / "base", dir / "delta", dir / "out");
  ao.vocab_mismatch = VocabMismatch::kOverlap;
  apply_delta(ao);
  for (const char* name : {kEmbed, kHead}) {
    const ReadTensor out = read_tensor(dir / "out", name), post = read_tensor(dir / "post", name);
    const ReadTensor base = read_tensor(dir / "base", name);
    ASSERT_EQ(out.shape[0], 28u) << name;
    EXPECT_TRUE(rows(out, 0, 24) == rows(post, 0, 24)) << name;
    EXPECT_TRUE(rows(out, 24, 28) == rows(base, 24, 28)) << name << ": rows only the base has are untouched";
  }
  EXPECT_EQ(nlohmann::json::parse(read_file(dir / "out" / "config.json"))["vocab_size"], 28);
}

TEST(VocabMismatch, ApplyingToANewBaseWithAnotherVocabularyIsAnErrorByDefault) {
  ScratchDir dir;
  write_pair(dir.path(), 24, 24);
  write_model(dir / "new", llama_tensors(DType::kBF16, kLayers, kHidden, 30, 9), config_for(30, false));
  compute_delta(compute_options(dir / "base", dir / "post", dir / "delta"));
  expect_error([&] { apply_delta(apply_options(dir / "new", dir / "delta", dir / "out")); },
               ErrorKind::kMismatch, {"30", "24", "vocab_mismatch=overlap"});
  EXPECT_FALSE(fs::exists(dir / "out"));
  auto ao = apply_options(dir / "new", dir / "delta", dir / "out");
  ao.vocab_mismatch = VocabMismatch::kOverlap;
  apply_delta(ao);
  const ReadTensor out = read_tensor(dir / "out", kEmbed), nb = read_tensor(dir / "new", kEmbed);
  EXPECT_EQ(out.shape[0], 30u);
  EXPECT_TRUE(rows(out, 24, 30) == rows(nb, 24, 30));
  EXPECT_EQ(nlohmann::json::parse(read_file(dir / "out" / "config.json"))["vocab_size"], 30);
}

TEST(VocabMismatch, ANewBaseSmallerThanTheDeltasRowsIsAnError) {
  ScratchDir dir;
  write_pair(dir.path(), 24, 24);
  write_model(dir / "new", llama_tensors(DType::kBF16, kLayers, kHidden, 20, 9), config_for(20, false));
  compute_delta(compute_options(dir / "base", dir / "post", dir / "delta"));
  auto ao = apply_options(dir / "new", dir / "delta", dir / "out");
  ao.vocab_mismatch = VocabMismatch::kOverlap;
  expect_error([&] { apply_delta(ao); }, ErrorKind::kMismatch, {"24", "20"});
}

TEST(VocabMismatch, OtherTensorsNeverGetTheOverlapTreatment) {
  ScratchDir dir;
  TensorMap base = base_tensors(DType::kBF16), post = post_tensors(DType::kBF16);
  post["model.layers.0.mlp.up_proj.weight"].shape = {40, kHidden};
  post["model.layers.0.mlp.up_proj.weight"].values.resize(40 * kHidden, 0.01);
  write_model(dir / "base", base, config_for(kVocab, false));
  write_model(dir / "post", post, config_for(kVocab, false));
  auto co = compute_options(dir / "base", dir / "post", dir / "delta");
  co.vocab_mismatch = VocabMismatch::kOverlap;
  const Error e = expect_error([&] { compute_delta(co); }, ErrorKind::kMismatch,
                               {"model.layers.0.mlp.up_proj.weight", "[32, 16]", "[40, 16]"});
  EXPECT_FALSE(e.hint().empty());
}

}  // namespace
}  // namespace paramdelta

namespace paramdelta {
namespace {

using namespace testing;

TEST(VocabMismatch, OverlapAlsoWorksAgainstATiedBase) {
  ScratchDir dir;
  write_model(dir / "base", base_tensors(DType::kBF16, true, 24), config_for(24, true));
  write_model(dir / "post", post_tensors(DType::kBF16, false, 28), config_for(28, false));
  auto co = compute_options(dir / "base", dir / "post", dir / "delta");
  co.vocab_mismatch = VocabMismatch::kOverlap;
  compute_delta(co);
  auto ao = apply_options(dir / "base", dir / "delta", dir / "out");
  ao.vocab_mismatch = VocabMismatch::kOverlap;
  apply_delta(ao);
  expect_identical_models(dir / "out", dir / "post");
  const auto config = nlohmann::json::parse(read_file(dir / "out" / "config.json"));
  EXPECT_EQ(config["vocab_size"], 28);
  EXPECT_EQ(config["tie_word_embeddings"], false);
}

}  // namespace
}  // namespace paramdelta
