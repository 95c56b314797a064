#include "engine/tensor_hash.h"

#include <gtest/gtest.h>

#include <vector>

namespace paramdelta::engine {
namespace {

std::vector<std::byte> data(std::size_t n, int seed) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 131 + seed) & 0xff);
  return v;
}

TEST(TensorHash, BlockwiseHashingInAnyChunkingGivesTheWholeTensorHash) {
  const std::size_t element = 2, n = kHashBlockElements * 2 + 1000;
  auto bytes = data(n * element, 1);
  std::vector<std::uint64_t> blocks;
  for (std::size_t b = 0; b * kHashBlockElements < n; ++b) {
    const std::size_t begin = b * kHashBlockElements * element;
    const std::size_t len = std::min(kHashBlockElements * element, bytes.size() - begin);
    blocks.push_back(hash_block(std::span(bytes).subspan(begin, len)));
  }
  EXPECT_EQ(blocks.size(), 3u);
  EXPECT_EQ(combine_block_hashes(blocks), hash_tensor(bytes, element));
}

TEST(TensorHash, FeedingABlockInPiecesGivesTheBlockHash) {
  auto bytes = data(kHashBlockElements * 2, 4);
  for (std::size_t piece : {1ul, 7ul, 255ul, 256ul, 16384ul, 100000ul}) {
    BlockHasher h;
    for (std::size_t off = 0; off < bytes.size(); off += piece) {
      h.update(std::span(bytes).subspan(off, std::min(piece, bytes.size() - off)));
    }
    EXPECT_EQ(h.digest(), hash_block(bytes)) << piece;
  }
  BlockHasher empty;
  EXPECT_EQ(empty.digest(), hash_block({}));
  auto changed = bytes;
  changed[12345] ^= std::byte{4};
  BlockHasher h;
  h.update(changed);
  EXPECT_NE(h.digest(), hash_block(bytes));
}

TEST(TensorHash, AnyChangedByteChangesTheHash) {
  auto bytes = data(5000, 2);
  const auto h = hash_tensor(bytes, 4);
  for (std::size_t i : {0ul, 1234ul, 4999ul}) {
    auto copy = bytes;
    copy[i] ^= std::byte{1};
    EXPECT_NE(hash_tensor(copy, 4), h) << i;
  }
}

TEST(TensorHash, DependsOnTheElementSizeThroughTheBlockBoundaries) {
  auto bytes = data(kHashBlockElements * 4, 3);
  EXPECT_NE(hash_tensor(bytes, 2), hash_tensor(bytes, 4));
}

TEST(TensorHash, HexIsSixteenLowercaseDigits) {
  EXPECT_EQ(hash_to_hex(0xabcull), "0000000000000abc");
  EXPECT_EQ(hash_to_hex(~0ull), "ffffffffffffffff");
}

}  // namespace
}  // namespace paramdelta::engine
