// The lossless default: apply(B, compute(B, P)) == P bit for bit, for every
// compute dtype, adversarial values included, in every output layout.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "delta/delta_test_support.h"

namespace paramdelta {
namespace {

namespace fs = std::filesystem;
using namespace testing;

struct Layout {
  bool single_file_delta;
  bool single_file_model;
  std::uint64_t max_shard_size;  // 0: one file
};

class Exactness : public ::testing::TestWithParam<std::tuple<DType, Layout>> {};

TEST_P(Exactness, ApplyingTheDeltaToItsBaseReproducesThePostBitForBit) {
  const auto [dtype, layout] = GetParam();
  ScratchDir dir;
  TensorMap base = base_tensors(dtype), post = post_tensors(dtype);
  inject_adversarial(base, post, "model.layers.0.self_attn.q_proj.weight");
  inject_adversarial(base, post, "lm_head.weight");
  write_model(dir / "base", base, config_for(kVocab, false), layout.max_shard_size);
  write_model(dir / "post", post, config_for(kVocab, false), layout.max_shard_size);

  const fs::path delta = dir / (layout.single_file_delta ? "delta.safetensors" : "delta");
  const fs::path out = dir / (layout.single_file_model ? "out.safetensors" : "out");
  auto co = compute_options(dir / "base", dir / "post", delta);
  co.run.max_shard_size = layout.max_shard_size ? layout.max_shard_size : co.run.max_shard_size;
  const OperationSummary cs = compute_delta(co);
  EXPECT_TRUE(cs.lossless);
  EXPECT_EQ(cs.encoding, "same-dtype+exceptions");
  EXPECT_GT(cs.exception_elements, 0u) << "the adversarial values need exceptions";

  auto ao = apply_options(dir / "base", delta, out);
  ao.run.max_shard_size = co.run.max_shard_size;
  apply_delta(ao);

  if (layout.single_file_model) {
    const auto got = read_all_bytes(out), want = read_all_bytes(dir / "post");
    EXPECT_TRUE(got == want);
  } else {
    expect_identical_models(out, dir / "post");
  }
  const VerifyReport report = verify_delta(verify_options(dir / "base", delta, dir / "post"));
  EXPECT_TRUE(report.exact());
  EXPECT_EQ(report.total_differing, 0u);
  EXPECT_EQ(report.base_matches_manifest, true);
  EXPECT_GT(report.total_elements, 0u);
}

const Layout kLayouts[] = {
    {false, false, 0},     // directory delta, directory model
    {true, true, 0},       // single files both ways
    {false, false, 3000},  // sharded delta and sharded model
    {true, false, 3000},   // single-file delta, sharded model
};

INSTANTIATE_TEST_SUITE_P(DtypesAndLayouts, Exactness,
                         ::testing::Combine(::testing::Values(DType::kBF16, DType::kF16, DType::kF32),
                                            ::testing::ValuesIn(kLayouts)),
                         [](const auto& info) {
                           const Layout& l = std::get<1>(info.param);
                           return std::string(dtype_name(std::get<0>(info.param))) +
                                  (l.single_file_delta ? "_FileDelta" : "_DirDelta") +
                                  (l.single_file_model ? "_FileModel" : "_DirModel") +
                                  (l.max_shard_size ? "_Sharded" : "");
                         });

TEST(Exactness, ShardedOutputsReallyHaveSeveralShardsAndAnIndex) {
  ScratchDir dir;
  write_model(dir / "base", base_tensors(DType::kBF16), config_for(kVocab, false), 3000);
  write_model(dir / "post", post_tensors(DType::kBF16), config_for(kVocab, false), 3000);
  auto co = compute_options(dir / "base", dir / "post", dir / "delta");
  co.run.max_shard_size = 3000;
  compute_delta(co);
  EXPECT_TRUE(fs::exists(dir / "delta" / "delta.safetensors.index.json"));
  int delta_shards = 0;
  for (const auto& e : fs::directory_iterator(dir / "delta")) {
    const std::string name = e.path().filename().string();
    delta_shards += name.rfind("delta-0000", 0) == 0 && name.find("-of-") != std::string::npos;
  }
  EXPECT_GE(delta_shards, 2);
  EXPECT_FALSE(fs::exists(dir / "delta" / "delta.safetensors"));
  auto ao = apply_options(dir / "base", dir / "delta", dir / "out");
  ao.run.max_shard_size = 3000;
  apply_delta(ao);
  const auto index = nlohmann::json::parse(read_file(dir / "out" / "model.safetensors.index.json"));
  std::uint64_t total = 0;
  for (const auto& [name, bytes] : read_all_bytes(dir / "out")) total += bytes.size();
  EXPECT_EQ(index["metadata"]["total_size"].get<std::uint64_t>(), total);
  EXPECT_EQ(index["weight_map"].size(), read_all_bytes(dir / "out").size());
}

TEST(Exactness, ResultDoesNotDependOnTheThreadCount) {
  ScratchDir dir;
  // Large enough for several chunks per tensor.
  TensorMap base = llama_tensors(DType::kBF16, 1, 256, 2100, 3),
            post = llama_tensors(DType::kBF16, 1, 256, 2100, 3, false, 0.01, 4);
  write_model(dir / "base", base, config_for(2100, false));
  write_model(dir / "post", post, config_for(2100, false));
  auto one = compute_options(dir / "base", dir / "post", dir / "d1");
  one.run.threads = 1;
  auto many = compute_options(dir / "base", dir / "post", dir / "d3");
  many.run.threads = 3;
  compute_delta(one);
  compute_delta(many);
  EXPECT_TRUE(read_all_bytes(dir / "d1", "delta") == read_all_bytes(dir / "d3", "delta"));
  EXPECT_TRUE(read_all_bytes(dir / "d1" / "exceptions.safetensors") ==
              read_all_bytes(dir / "d3" / "exceptions.safetensors"));
  apply_delta(apply_options(dir / "base", dir / "d3", dir / "out"));
  expect_identical_models(dir / "out", dir / "post");
}

TEST(Exactness, LosslessDeltaCostsAboutThePostModelsSize) {
  ScratchDir dir;
  // Big enough that file headers do not dominate; a fine-tuning-sized change
  // (about 2.5% of a typical weight).
  write_model(dir / "base", llama_tensors(DType::kBF16, 2, 128, 1024, 1), config_for(1024, false));
  write_model(dir / "post", llama_tensors(DType::kBF16, 2, 128, 1024, 1, false, 0.0005, 2),
              config_for(1024, false));
  const OperationSummary s = compute_delta(compute_options(dir / "base", dir / "post", dir / "delta"));
  EXPECT_GT(s.post_bytes, 0u);
  EXPECT_LT(static_cast<double>(s.bytes_written), 1.1 * static_cast<double>(s.post_bytes))
      << s.exception_elements << " exceptions";
  const auto manifest = nlohmann::json::parse(read_file(dir / "delta" / "paramdelta.json"));
  std::uint64_t listed = 0;
  for (const auto& [name, entry] : manifest["tensors"].items())
    listed += entry["exceptions"].get<std::uint64_t>();
  EXPECT_EQ(listed, s.exception_elements);
}

TEST(Exactness, MixedDtypesBetweenBaseAndPostStillReproduceThePost) {
  ScratchDir dir;
  write_model(dir / "base", base_tensors(DType::kF32), config_for(kVocab, false));
  write_model(dir / "post", post_tensors(DType::kBF16), config_for(kVocab, false));
  compute_delta(compute_options(dir / "base", dir / "post", dir / "delta"));
  auto ao = apply_options(dir / "base", dir / "delta", dir / "out");
  ao.dtype = DType::kBF16;
  apply_delta(ao);
  expect_identical_models(dir / "out", dir / "post");
  EXPECT_TRUE(verify_delta(verify_options(dir / "base", dir / "delta", dir / "post")).exact());
}

}  // namespace
}  // namespace paramdelta

namespace paramdelta {
namespace {

using namespace testing;

class ReadOnlyDtypes : public ::testing::TestWithParam<DType> {};

TEST_P(ReadOnlyDtypes, F64AndFp8ModelsAreReproducedBitForBit) {
  const DType dtype = GetParam();
  ScratchDir dir;
  write_model(dir / "base", base_tensors(dtype), config_for(kVocab, false));
  // Larger changes, so that 8-bit values really move.
  write_model(dir / "post", llama_tensors(dtype, kLayers, kHidden, kVocab, 1, false, 0.05, 3),
              config_for(kVocab, false));
  const OperationSummary s = compute_delta(compute_options(dir / "base", dir / "post", dir / "delta"));
  EXPECT_TRUE(s.lossless);
  apply_delta(apply_options(dir / "base", dir / "delta", dir / "out"));
  expect_identical_models(dir / "out", dir / "post");
  EXPECT_TRUE(verify_delta(verify_options(dir / "base", dir / "delta", dir / "post")).exact());
}

INSTANTIATE_TEST_SUITE_P(Dtypes, ReadOnlyDtypes,
                         ::testing::Values(DType::kF64, DType::kF8E4M3, DType::kF8E5M2),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST(Exactness, BareSafetensorsFilesWorkAsModels) {
  ScratchDir dir;
  write_model(dir / "b", base_tensors(DType::kBF16), config_for(kVocab, false));
  write_model(dir / "p", post_tensors(DType::kBF16), config_for(kVocab, false));
  std::filesystem::rename(dir / "b" / "model.safetensors", dir / "base.safetensors");
  std::filesystem::rename(dir / "p" / "model.safetensors", dir / "post.safetensors");
  compute_delta(compute_options(dir / "base.safetensors", dir / "post.safetensors", dir / "delta"));
  apply_delta(apply_options(dir / "base.safetensors", dir / "delta", dir / "out.safetensors"));
  EXPECT_TRUE(read_all_bytes(dir / "out.safetensors") == read_all_bytes(dir / "post.safetensors"));
  EXPECT_TRUE(verify_delta(verify_options(dir / "base.safetensors", dir / "delta", dir / "post.safetensors"))
                  .exact());
}

}  // namespace
}  // namespace paramdelta
