// verify: counts of elements that differ bit for bit, per tensor and in total.
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "delta/delta_test_support.h"

namespace paramdelta {
namespace {

namespace fs = std::filesystem;
using namespace testing;

class VerifyFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    write_model(dir / "base", base_tensors(DType::kBF16), config_for(kVocab, false));
    write_model(dir / "post", post_tensors(DType::kBF16), config_for(kVocab, false));
    compute_delta(compute_options(dir / "base", dir / "post", dir / "delta"));
  }
  ScratchDir dir;
};

TEST_F(VerifyFixture, TheRightBaseIsExactEverywhere) {
  const VerifyReport r = verify_delta(verify_options(dir / "base", dir / "delta", dir / "post"));
  EXPECT_TRUE(r.exact());
  EXPECT_EQ(r.base_matches_manifest, true);
  std::uint64_t elements = 0;
  for (const auto& t : r.tensors) {
    EXPECT_EQ(t.differing, 0u) << t.name;
    elements += t.elements;
  }
  EXPECT_EQ(r.total_elements, elements);
  std::uint64_t post_elements = 0;
  for (const auto& [name, bytes] : read_all_bytes(dir / "post")) post_elements += bytes.size() / 2;
  EXPECT_EQ(r.total_elements, post_elements);
}

TEST_F(VerifyFixture, AWrongBaseReportsDifferingCountsPerTensorAndInTotal) {
  write_model(dir / "other", llama_tensors(DType::kBF16, kLayers, kHidden, kVocab, 99),
              config_for(kVocab, false));
  const VerifyReport r = verify_delta(verify_options(dir / "other", dir / "delta", dir / "post"));
  EXPECT_FALSE(r.exact());
  EXPECT_EQ(r.base_matches_manifest, false);
  std::uint64_t sum = 0;
  for (const auto& t : r.tensors) {
    EXPECT_LE(t.differing, t.elements) << t.name;
    EXPECT_GT(t.differing, 0u) << t.name;
    EXPECT_GT(t.max_abs_difference, 0.0) << t.name;
    sum += t.differing;
  }
  EXPECT_EQ(r.total_differing, sum);
  EXPECT_GT(r.total_differing, r.total_elements / 2);
}

TEST_F(VerifyFixture, CountsExactlyTheElementsThatWereAltered) {
  TensorMap post = post_tensors(DType::kBF16);
  auto& t = post["model.layers.0.mlp.down_proj.weight"];
  for (std::size_t i : {3u, 100u, 101u}) t.values[i] += 0.5;
  write_model(dir / "altered", post, config_for(kVocab, false));
  const VerifyReport r = verify_delta(verify_options(dir / "base", dir / "delta", dir / "altered"));
  EXPECT_EQ(r.total_differing, 3u);
  for (const auto& tv : r.tensors) {
    EXPECT_EQ(tv.differing, tv.name == "model.layers.0.mlp.down_proj.weight" ? 3u : 0u) << tv.name;
    if (tv.differing) {
      EXPECT_NEAR(tv.max_abs_difference, 0.5, 0.01);
    }
  }
  EXPECT_EQ(r.base_matches_manifest, true) << "the base is right; the expected model is not";
}

TEST_F(VerifyFixture, AnExpectedModelLackingOrAddingTensorsIsReported) {
  TensorMap post = post_tensors(DType::kBF16);
  post.erase("model.norm.weight");
  post["model.unexpected"] = {DType::kBF16, {2}, {1, 2}, {}};
  write_model(dir / "different", post, config_for(kVocab, false));
  const VerifyReport r = verify_delta(verify_options(dir / "base", dir / "delta", dir / "different"));
  EXPECT_FALSE(r.exact());
  bool missing_noted = false, extra_counted = false;
  for (const auto& t : r.tensors) {
    if (t.name == "model.norm.weight") missing_noted = !t.note.empty();
    if (t.name == "model.unexpected") extra_counted = t.differing == 2 && !t.note.empty();
  }
  EXPECT_TRUE(missing_noted);
  EXPECT_TRUE(extra_counted);
}

TEST_F(VerifyFixture, ScaledApplicationVerifiesAgainstAScaledApplyOutput) {
  auto ao = apply_options(dir / "base", dir / "delta", dir / "half");
  ao.scale = 0.5;
  apply_delta(ao);
  auto vo = verify_options(dir / "base", dir / "delta", dir / "half");
  vo.scale = 0.5;
  EXPECT_TRUE(verify_delta(vo).exact());
  vo.scale = 1.0;
  EXPECT_FALSE(verify_delta(vo).exact());
}

TEST_F(VerifyFixture, JsonReportCarriesTheCounts) {
  write_model(dir / "other", llama_tensors(DType::kBF16, kLayers, kHidden, kVocab, 99),
              config_for(kVocab, false));
  const VerifyReport r = verify_delta(verify_options(dir / "other", dir / "delta", dir / "post"));
  const auto j = nlohmann::json::parse(to_json(r));
  EXPECT_EQ(j["exact"], false);
  EXPECT_EQ(j["differing_elements"], r.total_differing);
  EXPECT_EQ(j["total_elements"], r.total_elements);
  EXPECT_EQ(j["base_matches_manifest"], false);
  EXPECT_EQ(j["tensors"].size(), r.tensors.size());
}

}  // namespace
}  // namespace paramdelta
