#include "storage/remote_writer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <thread>

#include "paramdelta/checkpoint.h"
#include "paramdelta/safetensors.h"
#include "storage/directory_store.h"
#include "support/test_support.h"

namespace paramdelta::testing {
namespace {

std::vector<std::byte> pattern(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::byte> v(n);
  for (auto& b : v) b = static_cast<std::byte>(rng());
  return v;
}

struct Output {
  ScratchDir bucket;
  ScratchDir staging;
  std::shared_ptr<DirectoryStore> store = std::make_shared<DirectoryStore>(bucket.path());
  std::shared_ptr<storage::RemoteOutput> output;
  explicit Output(std::uint64_t min_part = 5 << 20) {
    store->min_part_ = min_part;
    output =
        std::make_shared<storage::RemoteOutput>(storage::RemoteLocation{store, "out"}, staging.path(), true);
    storage::register_remote_output(staging.path(), output);
  }
  ~Output() { storage::unregister_remote_output(staging.path()); }
};

TEST(RemoteWriter, AFileWrittenOutOfOrderByManyThreadsArrivesWholeAndOnlyAtCommit) {
  Output o;
  // 21 MiB of F32 in three tensors: several parts, the last one short.
  const std::vector<TensorSpec> specs = {{"a", DType::kF32, {1024, 1024}},
                                         {"b", DType::kF32, {3, 1024, 1024}},
                                         {"c", DType::kF32, {1000, 1000}}};
  std::vector<std::vector<std::byte>> values;
  for (std::size_t i = 0; i < specs.size(); ++i) values.push_back(pattern(specs[i].nbytes(), i + 1));
  {
    SafetensorsWriter writer(o.staging / "model.safetensors", specs, {{"format", "pt"}});
    // Chunks of 300 KB in a shuffled order, from four threads.
    struct Chunk {
      std::size_t tensor;
      std::uint64_t offset, size;
    };
    std::vector<Chunk> chunks;
    for (std::size_t t = 0; t < specs.size(); ++t) {
      for (std::uint64_t at = 0; at < specs[t].nbytes(); at += 300000)
        chunks.push_back({t, at, std::min<std::uint64_t>(300000, specs[t].nbytes() - at)});
    }
    std::shuffle(chunks.begin(), chunks.end(), std::mt19937_64(9));
    std::vector<std::thread> threads;
    for (int w = 0; w < 4; ++w) {
      threads.emplace_back([&, w] {
        for (std::size_t i = static_cast<std::size_t>(w); i < chunks.size(); i += 4) {
          const Chunk& c = chunks[i];
          writer.write_at(c.tensor, c.offset, std::span(values[c.tensor]).subspan(c.offset, c.size));
        }
      });
    }
    for (auto& t : threads) t.join();
    writer.finish();
  }
  EXPECT_FALSE(o.store->stat("out/model.safetensors").has_value()) << "visible before the output commits";
  o.output->commit(false);
  ASSERT_TRUE(o.store->stat("out/model.safetensors").has_value());
  const Checkpoint read = Checkpoint::open(o.bucket / "out/model.safetensors");
  EXPECT_EQ(read.metadata().at("format"), "pt");
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const TensorRef* ref = read.find(specs[i].name);
    ASSERT_NE(ref, nullptr);
    ASSERT_EQ(read.data(*ref).size(), values[i].size());
    EXPECT_EQ(0, std::memcmp(read.data(*ref).data(), values[i].data(), values[i].size())) << specs[i].name;
  }
  EXPECT_EQ(o.store->commits, 1);
}

TEST(RemoteWriter, AnUnfinishedFileIsAbortedAndNeverAppears) {
  Output o;
  {
    SafetensorsWriter writer(o.staging / "model.safetensors", {{"a", DType::kF32, {4 << 20}}});
    const auto bytes = pattern(12 << 20, 3);
    writer.write_at(0, 0, bytes);  // a part or more uploaded, then the run fails
  }
  o.output.reset();
  EXPECT_EQ(o.store->aborts, 1);
  EXPECT_EQ(o.store->commits, 0);
  EXPECT_TRUE(o.store->list("").empty());
}

TEST(RemoteWriter, SmallFilesFollowTheWeightsAndTheManifestComesLast) {
  Output o;
  write_file(o.bucket / "stale.txt", "");  // outside the prefix: untouched
  std::filesystem::create_directories(o.bucket / "out");
  write_file(o.bucket / "out/model-00002-of-00002.safetensors", "old");  // from an earlier run
  {
    SafetensorsWriter writer(o.staging / "delta.safetensors", {{"a", DType::kBF16, {8}}});
    writer.write_at(0, 0, pattern(16, 1));
    writer.finish();
  }
  write_file(o.staging / "paramdelta.json", "{}");
  write_file(o.staging / "config.json", "{}");
  write_file(o.staging / "delta.safetensors.index.json", "{}");
  o.output->commit(/*replace=*/true);
  const std::vector<std::string> want = {"out/delta.safetensors", "out/config.json",
                                         "out/delta.safetensors.index.json", "out/paramdelta.json"};
  EXPECT_EQ(o.store->put_order, want);
  EXPECT_FALSE(o.store->stat("out/model-00002-of-00002.safetensors"))
      << "a replaced output keeps a stale shard";
  EXPECT_TRUE(o.store->stat("stale.txt"));
}

TEST(RemoteWriter, ShardsLeaveAsSoonAsTheyAreWritten) {
  Output o;
  {
    SafetensorsWriter first(o.staging / "model-00001-of-00002.safetensors", {{"a", DType::kF32, {3 << 20}}});
    first.finish_when_complete();
    const auto bytes = pattern(12 << 20, 4);
    first.write_at(0, 0, bytes);
    // Finished by the write that completed it: later finish() calls do nothing.
    first.finish();
  }
  EXPECT_EQ(o.store->aborts, 0);
  o.output->commit(false);
  EXPECT_TRUE(o.store->stat("out/model-00001-of-00002.safetensors"));
}

}  // namespace
}  // namespace paramdelta::testing
