#include "storage/remote_source.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <random>

#include "paramdelta/checkpoint.h"
#include "storage/directory_store.h"
#include "storage/remote_files.h"
#include "support/model_builder.h"
#include "support/test_support.h"

namespace paramdelta::testing {
namespace {

std::string random_bytes(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// Pages of [p, p + n) that are resident.
std::size_t resident_pages(const std::byte* p, std::size_t n) {
  const std::size_t ps = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> v((n + ps - 1) / ps);
  if (mincore(const_cast<std::byte*>(p), n, v.data()) != 0) return 0;
  std::size_t count = 0;
  for (auto c : v) count += c & 1;
  return count;
}

constexpr std::uint64_t kBlock = 64 << 10;

struct Fixture {
  ScratchDir dir;
  std::shared_ptr<DirectoryStore> store = std::make_shared<DirectoryStore>(dir.path());
  std::string content = random_bytes(40 * kBlock + 12345, 7);
  Fixture() { write_file(dir / "obj.bin", content); }
  std::shared_ptr<ByteSource> open(std::size_t budget = 4, std::size_t ahead = 2) {
    return storage::open_remote_object(store, "obj.bin", content.size(), {kBlock, ahead, budget});
  }
};

TEST(RemoteSource, PinnedRangesHoldTheObjectsBytes) {
  Fixture f;
  auto src = f.open();
  std::mt19937_64 rng(1);
  for (int i = 0; i < 200; ++i) {
    const std::uint64_t a = rng() % f.content.size();
    const std::uint64_t b = std::min<std::uint64_t>(f.content.size(), a + 1 + rng() % (3 * kBlock));
    const PinnedRange pin = src->pin(a, b);
    ASSERT_EQ(0, std::memcmp(src->view().data() + a, f.content.data() + a, b - a)) << a << ".." << b;
  }
  std::vector<std::byte> head(100);
  src->read(f.content.size() - 100, head);
  EXPECT_EQ(0, std::memcmp(head.data(), f.content.data() + f.content.size() - 100, 100));
  EXPECT_THROW(src->read(f.content.size() - 10, head), Error);
}

TEST(RemoteSource, ReadsAheadSoThatASequentialScanWaitsOnlyOnce) {
  Fixture f;
  auto src = f.open(/*budget=*/8, /*ahead=*/4);
  { const PinnedRange first = src->pin(0, 10); }
  // The first pin fetched its block and started the next four.
  for (int i = 0; i < 100 && f.store->reads < 5; ++i) usleep(10000);
  EXPECT_EQ(f.store->reads, 5);
}

TEST(RemoteSource, MemoryStaysWithinTheBudgetWhateverTheObjectsSize) {
  Fixture f;
  auto src = f.open(/*budget=*/4, /*ahead=*/2);
  const std::size_t ps = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  std::size_t most = 0;
  for (std::uint64_t at = 0; at < f.content.size(); at += kBlock / 2) {
    const std::uint64_t end = std::min<std::uint64_t>(f.content.size(), at + kBlock / 2);
    const PinnedRange pin = src->pin(at, end);
    most = std::max(most, resident_pages(src->view().data(), f.content.size()));
  }
  // Budget 4, read-ahead 2, one pinned: never more than 7 blocks resident.
  EXPECT_LE(most * ps, 7 * kBlock);
  EXPECT_GT(most, 0u);
  // Released blocks are dropped at once.
  src->release(0, f.content.size());
  for (int i = 0; i < 100 && resident_pages(src->view().data(), f.content.size()) > 0; ++i) usleep(10000);
  EXPECT_EQ(resident_pages(src->view().data(), f.content.size()), 0u);
}

TEST(RemoteSource, AFailedFetchIsAnErrorOfThePin) {
  Fixture f;
  auto src = f.open();
  f.store->fail_reads = true;
  try {
    const PinnedRange pin = src->pin(kBlock * 3, kBlock * 3 + 10);
    FAIL() << "a failed fetch was not reported";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("injected read failure"), std::string::npos);
  }
}

TEST(RemoteSourceDeathTest, BytesThatAreNotPinnedCannotBeRead) {
  Fixture f;
  auto src = f.open();
  // An unpinned read must fault, never see zeros that look like weights.
  EXPECT_DEATH(
      {
        volatile std::byte b = src->view()[5 * kBlock + 3];
        (void)b;
      },
      "");
}

TEST(RemoteFiles, ARemoteModelDirectoryOpensAsTheSameCheckpoint) {
  ScratchDir bucket;
  write_model(bucket / "models/tiny", llama_tensors(DType::kBF16, 2, 16, 32, 3),
              llama_config(2, 16, 32, false),
              /*max_shard_size=*/2000);
  write_file(bucket / "models/tiny/tokenizer_config.json", "{}");
  std::filesystem::create_directories(bucket / "models/tiny-other");
  write_file(bucket / "models/tiny-other/config.json", "{}");  // a sibling prefix, not part of it
  auto store = std::make_shared<DirectoryStore>(bucket.path());
  const auto input = storage::mirror_remote_input({store, "models/tiny"});
  EXPECT_EQ(input.description, "test://bucket/models/tiny");
  EXPECT_TRUE(std::filesystem::is_regular_file(input.path / "config.json"));
  EXPECT_TRUE(std::filesystem::is_regular_file(input.path / "tokenizer_config.json"));
  EXPECT_FALSE(std::filesystem::exists(input.path / "model-00001-of-00003.safetensors"))
      << "weights must not be copied to the local disk";
  const Checkpoint remote = Checkpoint::open(input.path);
  const Checkpoint local = Checkpoint::open(bucket / "models/tiny");
  ASSERT_GT(remote.shard_count(), 1u);
  ASSERT_EQ(remote.tensors().size(), local.tensors().size());
  for (const auto& ref : local.tensors()) {
    const TensorRef* r = remote.find(ref.name());
    ASSERT_NE(r, nullptr) << ref.name();
    const auto pin = remote.pin(*r);
    ASSERT_EQ(remote.data(*r).size(), local.data(ref).size());
    EXPECT_EQ(0, std::memcmp(remote.data(*r).data(), local.data(ref).data(), local.data(ref).size()))
        << ref.name();
  }
  EXPECT_EQ(read_tensor_as_f32(remote, *remote.find("model.norm.weight")),
            read_tensor_as_f32(local, *local.find("model.norm.weight")));
}

TEST(RemoteFiles, ErrorsNameTheUrlNotTheLocalCopy) {
  ScratchDir bucket;
  std::filesystem::create_directories(bucket / "m");
  write_file(bucket / "m/config.json", "{}");
  write_file(bucket / "m/model.safetensors.index.json", R"({"weight_map": {"a": "model-1.safetensors"}})");
  auto store = std::make_shared<DirectoryStore>(bucket.path());
  const auto input = storage::mirror_remote_input({store, "m"});
  try {
    Checkpoint::open(input.path);
    FAIL() << "opened a checkpoint whose shard is missing";
  } catch (const Error& e) {
    EXPECT_EQ(e.context().file, "test://bucket/m/model.safetensors.index.json");
  }
  try {
    storage::mirror_remote_input({store, "nothing/here"});
    FAIL() << "a missing prefix was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
    EXPECT_EQ(e.context().file, "test://bucket/nothing/here");
  }
}

TEST(RemoteFiles, ASingleRemoteSafetensorsObjectOpens) {
  ScratchDir bucket;
  write_model(bucket / "d", llama_tensors(DType::kF32, 1, 8, 16, 5), "{}");
  auto store = std::make_shared<DirectoryStore>(bucket.path());
  const auto input = storage::mirror_remote_input({store, "d/model.safetensors"});
  EXPECT_EQ(input.description, "test://bucket/d/model.safetensors");
  const Checkpoint remote = Checkpoint::open(input.path);
  EXPECT_TRUE(remote.is_single_file());
  EXPECT_EQ(remote.tensors().size(), Checkpoint::open(bucket / "d").tensors().size());
}

}  // namespace
}  // namespace paramdelta::testing
