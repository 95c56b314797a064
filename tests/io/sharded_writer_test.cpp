// Hugging Face style sharding: shard names, fill order, the index file.
#include "io/sharded_writer.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "paramdelta/checkpoint.h"
#include "support/test_support.h"

namespace paramdelta {
namespace {

namespace fs = std::filesystem;
using testing::ScratchDir;

std::vector<std::byte> filled(std::size_t n, int v) {
  return std::vector<std::byte>(n, static_cast<std::byte>(v));
}

void write_all(ShardedWriter& w, const std::vector<TensorSpec>& specs) {
  for (std::size_t i = 0; i < specs.size(); ++i)
    w.write_at(i, 0, filled(specs[i].nbytes(), static_cast<int>(i + 1)));
  w.finish();
}

TEST(ShardFileName, FollowsTheHubPattern) {
  EXPECT_EQ(shard_file_name("model", 0, 1), "model.safetensors");
  EXPECT_EQ(shard_file_name("model", 0, 3), "model-00001-of-00003.safetensors");
  EXPECT_EQ(shard_file_name("delta", 11, 12), "delta-00012-of-00012.safetensors");
}

TEST(ShardedWriter, EverythingFittingInOneShardGivesOneFileAndNoIndex) {
  ScratchDir dir;
  std::vector<TensorSpec> specs = {{"a", DType::kF32, {10}}, {"b", DType::kF32, {10}}};
  ShardedWriter w(dir.path(), "model", specs, 1000, {{"format", "pt"}});
  write_all(w, specs);
  EXPECT_EQ(w.shard_count(), 1u);
  EXPECT_TRUE(fs::exists(dir / "model.safetensors"));
  EXPECT_FALSE(fs::exists(dir / "model.safetensors.index.json"));
}

TEST(ShardedWriter, FillsShardsInOrderUpToTheLimitAndWritesTheIndex) {
  ScratchDir dir;
  // 40 + 40 fit in 100; the third starts a new shard; the fourth (120 bytes)
  // is larger than the limit and gets a shard of its own.
  std::vector<TensorSpec> specs = {{"t0", DType::kF32, {10}},
                                   {"t1", DType::kF32, {10}},
                                   {"t2", DType::kF32, {10}},
                                   {"t3", DType::kF32, {30}},
                                   {"t4", DType::kU8, {1}}};
  ShardedWriter w(dir.path(), "model", specs, 100, {{"format", "pt"}});
  write_all(w, specs);
  ASSERT_EQ(w.shard_count(), 4u);
  const auto index = nlohmann::json::parse(testing::read_file(dir / "model.safetensors.index.json"));
  const auto& map = index.at("weight_map");
  EXPECT_EQ(map.at("t0"), "model-00001-of-00004.safetensors");
  EXPECT_EQ(map.at("t1"), "model-00001-of-00004.safetensors");
  EXPECT_EQ(map.at("t2"), "model-00002-of-00004.safetensors");
  EXPECT_EQ(map.at("t3"), "model-00003-of-00004.safetensors");
  EXPECT_EQ(map.at("t4"), "model-00004-of-00004.safetensors");
  std::uint64_t total = 0;
  for (const auto& s : specs) total += s.nbytes();
  EXPECT_EQ(index.at("metadata").at("total_size").get<std::uint64_t>(), total);
  for (const auto& [tensor, file] : map.items()) {
    auto shard = SafetensorsFile::open(dir / file.get<std::string>());
    EXPECT_NE(shard->find(tensor), nullptr) << tensor;
    EXPECT_EQ(shard->metadata().at("format"), "pt");
  }
}

TEST(ShardedWriter, ItsOutputReadsBackAsOneCheckpoint) {
  ScratchDir dir;
  std::vector<TensorSpec> specs = {
      {"x", DType::kBF16, {64}}, {"y", DType::kBF16, {64}}, {"z", DType::kI32, {3}}};
  ShardedWriter w(dir.path(), "delta", specs, 128, {});
  write_all(w, specs);
  auto ckpt = Checkpoint::open(dir.path(), "delta");
  EXPECT_EQ(ckpt.shard_count(), 3u);
  ASSERT_EQ(ckpt.tensors().size(), 3u);
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const TensorRef* ref = ckpt.find(specs[i].name);
    ASSERT_NE(ref, nullptr);
    auto data = ckpt.data(*ref);
    EXPECT_EQ(std::vector<std::byte>(data.begin(), data.end()),
              filled(specs[i].nbytes(), static_cast<int>(i + 1)));
  }
}

TEST(ShardedWriter, LeavesNoFilesWhenNotFinished) {
  ScratchDir dir;
  {
    std::vector<TensorSpec> specs = {{"a", DType::kF32, {10}}, {"b", DType::kF32, {10}}};
    ShardedWriter w(dir.path(), "model", specs, 40, {});
    w.write_at(0, 0, filled(40, 1));
  }
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

}  // namespace
}  // namespace paramdelta
