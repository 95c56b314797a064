// Tied embeddings: when one side has no lm_head.weight, its head is the
// embedding matrix.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "delta/delta_test_support.h"

namespace paramdelta {
namespace {

namespace fs = std::filesystem;
using namespace testing;

const char* kHead = "lm_head.weight";
const char* kEmbed = "model.embed_tokens.weight";

bool has_note(const OperationSummary& s, const std::string& part) {
  for (const auto& n : s.notes) {
    if (n.find(part) != std::string::npos) return true;
  }
  return false;
}

TEST(TiedEmbeddings, BaseTiedPostUntiedReproducesThePostsHead) {
  ScratchDir dir;
  write_model(dir / "base", base_tensors(DType::kBF16, true), config_for(kVocab, true));
  write_model(dir / "post", post_tensors(DType::kBF16, false), config_for(kVocab, false));
  const OperationSummary s = compute_delta(compute_options(dir / "base", dir / "post", dir / "delta"));
  EXPECT_TRUE(has_note(s, "base ties"));
  const auto manifest = nlohmann::json::parse(read_file(dir / "delta" / "paramdelta.json"));
  EXPECT_EQ(manifest["tensors"][kHead]["kind"], "delta");
  EXPECT_EQ(manifest["tensors"][kHead]["base_tensor"], kEmbed);

  const OperationSummary a = apply_delta(apply_options(dir / "base", dir / "delta", dir / "out"));
  EXPECT_TRUE(has_note(a, "ties"));
  expect_identical_models(dir / "out", dir / "post");
  const auto config = nlohmann::json::parse(read_file(dir / "out" / "config.json"));
  EXPECT_EQ(config["tie_word_embeddings"], false) << "the output has its own head now";
  EXPECT_TRUE(verify_delta(verify_options(dir / "base", dir / "delta", dir / "post")).exact());
}

TEST(TiedEmbeddings, PostTiedBaseUntiedGivesAHeadEqualToThePostsEmbedding) {
  ScratchDir dir;
  write_model(dir / "base", base_tensors(DType::kBF16, false), config_for(kVocab, false));
  write_model(dir / "post", post_tensors(DType::kBF16, true), config_for(kVocab, true));
  const OperationSummary s = compute_delta(compute_options(dir / "base", dir / "post", dir / "delta"));
  EXPECT_TRUE(has_note(s, "post ties"));
  const auto manifest = nlohmann::json::parse(read_file(dir / "delta" / "paramdelta.json"));
  EXPECT_EQ(manifest["tensors"][kHead]["kind"], "delta");
  EXPECT_TRUE(manifest["removed_tensors"].empty()) << "the head is not removed, it is tied";

  apply_delta(apply_options(dir / "base", dir / "delta", dir / "out"));
  EXPECT_TRUE(read_tensor(dir / "out", kHead).raw == read_tensor(dir / "post", kEmbed).raw);
  EXPECT_TRUE(read_tensor(dir / "out", kEmbed).raw == read_tensor(dir / "post", kEmbed).raw);
  const VerifyReport r = verify_delta(verify_options(dir / "base", dir / "delta", dir / "post"));
  EXPECT_TRUE(r.exact());
}

TEST(TiedEmbeddings, NewBaseTiedGetsItsOwnHeadFromItsEmbeddingPlusTheDelta) {
  ScratchDir dir;
  write_model(dir / "base", base_tensors(DType::kF32, false), config_for(kVocab, false));
  write_model(dir / "post", post_tensors(DType::kF32, false), config_for(kVocab, false));
  write_model(dir / "new", llama_tensors(DType::kF32, kLayers, kHidden, kVocab, 3, true),
              config_for(kVocab, true));
  compute_delta(compute_options(dir / "base", dir / "post", dir / "delta"));
  const OperationSummary a = apply_delta(apply_options(dir / "new", dir / "delta", dir / "out"));
  EXPECT_TRUE(has_note(a, "new base ties"));
  const ReadTensor head = read_tensor(dir / "out", kHead);
  const ReadTensor new_embed = read_tensor(dir / "new", kEmbed);
  const auto delta = exact_delta(dir / "delta", kHead);
  ASSERT_EQ(head.values.size(), new_embed.values.size());
  for (std::size_t i = 0; i < head.values.size(); ++i) {
    EXPECT_EQ(static_cast<float>(head.values[i]), static_cast<float>(new_embed.values[i] + delta[i])) << i;
  }
  const auto config = nlohmann::json::parse(read_file(dir / "out" / "config.json"));
  EXPECT_EQ(config["tie_word_embeddings"], false);
}

TEST(TiedEmbeddings, BothTiedNeedNoHeadAtAll) {
  ScratchDir dir;
  write_model(dir / "base", base_tensors(DType::kBF16, true), config_for(kVocab, true));
  write_model(dir / "post", post_tensors(DType::kBF16, true), config_for(kVocab, true));
  compute_delta(compute_options(dir / "base", dir / "post", dir / "delta"));
  apply_delta(apply_options(dir / "base", dir / "delta", dir / "out"));
  expect_identical_models(dir / "out", dir / "post");
  EXPECT_EQ(nlohmann::json::parse(read_file(dir / "out" / "config.json"))["tie_word_embeddings"], true);
}

}  // namespace
}  // namespace paramdelta
