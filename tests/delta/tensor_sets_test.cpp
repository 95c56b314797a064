// Tensors present on one side only, integer tensors, and shape mismatches.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "delta/delta_test_support.h"

namespace paramdelta {
namespace {

namespace fs = std::filesystem;
using namespace testing;

bool has_note(const OperationSummary& s, const std::string& a, const std::string& b = {}) {
  for (const auto& n : s.notes) {
    if (n.find(a) != std::string::npos && n.find(b) != std::string::npos) return true;
  }
  return false;
}

TEST(TensorSets, ATensorOnlyInThePostIsStoredAsItsFullValue) {
  ScratchDir dir;
  TensorMap post = post_tensors(DType::kBF16);
  post["model.layers.0.adapter.weight"] = {DType::kBF16, {4, 4}, std::vector<double>(16, 0.125), {}};
  write_model(dir / "base", base_tensors(DType::kBF16), config_for(kVocab, false));
  write_model(dir / "post", post, config_for(kVocab, false));
  const OperationSummary s = compute_delta(compute_options(dir / "base", dir / "post", dir / "delta"));
  EXPECT_TRUE(has_note(s, "model.layers.0.adapter.weight", "only in the post"));
  const auto manifest = nlohmann::json::parse(read_file(dir / "delta" / "paramdelta.json"));
  EXPECT_EQ(manifest["tensors"]["model.layers.0.adapter.weight"]["kind"], "full");
  EXPECT_TRUE(read_tensor(dir / "delta", "model.layers.0.adapter.weight", "delta").raw ==
              read_tensor(dir / "post", "model.layers.0.adapter.weight").raw);
  apply_delta(apply_options(dir / "base", dir / "delta", dir / "out"));
  expect_identical_models(dir / "out", dir / "post");
}

TEST(TensorSets, ATensorOnlyInTheBaseIsRecordedAsRemovedAndOmitted) {
  ScratchDir dir;
  TensorMap base = base_tensors(DType::kBF16);
  base["model.layers.0.rotary_emb.inv_freq"] = {DType::kF32, {8}, std::vector<double>(8, 0.5), {}};
  write_model(dir / "base", base, config_for(kVocab, false));
  write_model(dir / "post", post_tensors(DType::kBF16), config_for(kVocab, false));
  const OperationSummary s = compute_delta(compute_options(dir / "base", dir / "post", dir / "delta"));
  EXPECT_TRUE(has_note(s, "model.layers.0.rotary_emb.inv_freq", "only in the base"));
  const auto manifest = nlohmann::json::parse(read_file(dir / "delta" / "paramdelta.json"));
  EXPECT_EQ(manifest["removed_tensors"], nlohmann::json::array({"model.layers.0.rotary_emb.inv_freq"}));
  const OperationSummary a = apply_delta(apply_options(dir / "base", dir / "delta", dir / "out"));
  EXPECT_TRUE(has_note(a, "model.layers.0.rotary_emb.inv_freq", "omitted"));
  expect_identical_models(dir / "out", dir / "post");
}

TEST(TensorSets, TensorsOfTheNewBaseThatTheDeltaDoesNotKnowAreCopied) {
  ScratchDir dir;
  write_model(dir / "base", base_tensors(DType::kBF16), config_for(kVocab, false));
  write_model(dir / "post", post_tensors(DType::kBF16), config_for(kVocab, false));
  TensorMap nb = base_tensors(DType::kBF16);
  nb["model.vision.proj"] = {DType::kF16, {3}, {1, 2, 3}, {}};
  write_model(dir / "new", nb, config_for(kVocab, false));
  compute_delta(compute_options(dir / "base", dir / "post", dir / "delta"));
  const OperationSummary a = apply_delta(apply_options(dir / "new", dir / "delta", dir / "out"));
  EXPECT_TRUE(read_tensor(dir / "out", "model.vision.proj").raw ==
              read_tensor(dir / "new", "model.vision.proj").raw);
  EXPECT_TRUE(has_note(a, "copied unchanged"));
}

TEST(TensorSets, IntegerTensorsAreCarriedAndApplyKeepsTheNewBases) {
  ScratchDir dir;
  TensorMap base = base_tensors(DType::kBF16), post = post_tensors(DType::kBF16);
  base["model.position_ids"] = {DType::kI64, {4}, {0, 1, 2, 3}, {}};
  post["model.position_ids"] = {DType::kI64, {4}, {0, 1, 2, 7}, {}};
  post["model.causal_mask"] = {DType::kBool, {3}, {}, {std::byte{1}, std::byte{0}, std::byte{1}}};
  write_model(dir / "base", base, config_for(kVocab, false));
  write_model(dir / "post", post, config_for(kVocab, false));
  const OperationSummary s = compute_delta(compute_options(dir / "base", dir / "post", dir / "delta"));
  EXPECT_TRUE(has_note(s, "model.position_ids", "differs"));
  const auto manifest = nlohmann::json::parse(read_file(dir / "delta" / "paramdelta.json"));
  EXPECT_EQ(manifest["tensors"]["model.position_ids"]["kind"], "carry");
  EXPECT_EQ(manifest["tensors"]["model.position_ids"]["dtype"], "I64");
  EXPECT_TRUE(read_tensor(dir / "delta", "model.position_ids", "delta").raw ==
              read_tensor(dir / "post", "model.position_ids").raw);

  TensorMap nb = base_tensors(DType::kBF16);
  nb["model.position_ids"] = {DType::kI64, {4}, {5, 6, 7, 8}, {}};
  write_model(dir / "new", nb, config_for(kVocab, false));
  apply_delta(apply_options(dir / "new", dir / "delta", dir / "out"));
  EXPECT_TRUE(read_tensor(dir / "out", "model.position_ids").raw ==
              read_tensor(dir / "new", "model.position_ids").raw);
  // An integer tensor the new base lacks comes from the delta.
  EXPECT_TRUE(read_tensor(dir / "out", "model.causal_mask").raw ==
              read_tensor(dir / "post", "model.causal_mask").raw);
  EXPECT_EQ(read_tensor(dir / "out", "model.causal_mask").dtype, DType::kBool);
}

TEST(TensorSets, AnyOtherShapeMismatchIsAnErrorNamingTheTensorAndBothShapes) {
  ScratchDir dir;
  TensorMap post = post_tensors(DType::kBF16);
  post["model.layers.0.self_attn.k_proj.weight"].shape = {8, kHidden};
  post["model.layers.0.self_attn.k_proj.weight"].values.resize(8 * kHidden);
  write_model(dir / "base", base_tensors(DType::kBF16), config_for(kVocab, false));
  write_model(dir / "post", post, config_for(kVocab, false));
  const Error e =
      expect_error([&] { compute_delta(compute_options(dir / "base", dir / "post", dir / "delta")); },
                   ErrorKind::kMismatch, {"[16, 16]", "[8, 16]"});
  EXPECT_EQ(e.context().tensor, "model.layers.0.self_attn.k_proj.weight");
  EXPECT_FALSE(e.hint().empty());
  EXPECT_FALSE(fs::exists(dir / "delta"));
}

TEST(TensorSets, ApplyingToADifferentArchitectureIsAnErrorNamingTheTensor) {
  ScratchDir dir;
  write_model(dir / "base", base_tensors(DType::kBF16), config_for(kVocab, false));
  write_model(dir / "post", post_tensors(DType::kBF16), config_for(kVocab, false));
  compute_delta(compute_options(dir / "base", dir / "post", dir / "delta"));
  write_model(dir / "wide", llama_tensors(DType::kBF16, kLayers, 2 * kHidden, kVocab, 1),
              config_for(kVocab, false));
  const Error e = expect_error([&] { apply_delta(apply_options(dir / "wide", dir / "delta", dir / "out")); },
                               ErrorKind::kMismatch, {", 32]", ", 16]"});
  EXPECT_FALSE(e.context().tensor.empty());
  EXPECT_FALSE(fs::exists(dir / "out"));
  // A new base without a tensor that the delta changes.
  TensorMap missing = base_tensors(DType::kBF16);
  missing.erase("model.layers.0.mlp.down_proj.weight");
  write_model(dir / "short", missing, config_for(kVocab, false));
  const Error m = expect_error([&] { apply_delta(apply_options(dir / "short", dir / "delta", dir / "out")); },
                               ErrorKind::kMismatch, {});
  EXPECT_EQ(m.context().tensor, "model.layers.0.mlp.down_proj.weight");
}

TEST(TensorSets, AFloatPostTensorOverAnIntegerBaseTensorIsAMismatch) {
  ScratchDir dir;
  TensorMap base = base_tensors(DType::kBF16), post = post_tensors(DType::kBF16);
  base["model.scale"] = {DType::kI32, {2}, {1, 2}, {}};
  post["model.scale"] = {DType::kF32, {2}, {1.5, 2.5}, {}};
  write_model(dir / "base", base, config_for(kVocab, false));
  write_model(dir / "post", post, config_for(kVocab, false));
  const Error e =
      expect_error([&] { compute_delta(compute_options(dir / "base", dir / "post", dir / "delta")); },
                   ErrorKind::kMismatch, {"I32", "F32"});
  EXPECT_EQ(e.context().tensor, "model.scale");
}

}  // namespace
}  // namespace paramdelta
