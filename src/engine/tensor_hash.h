// Checksums of tensor contents that can be computed chunk by chunk, in
// parallel, in the same pass as the arithmetic: each block of
// kHashBlockElements elements is hashed with XXH3-64, and the tensor's
// checksum is XXH3-64 of the little-endian block hashes in order. The block
// size is fixed by the format (recorded in the manifest), not by thread count.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace paramdelta::engine {

inline constexpr std::uint64_t kHashBlockElements = 1ull << 18;
inline constexpr const char* kTensorHashName = "xxh3-64-blocks-262144";

std::uint64_t hash_block(std::span<const std::byte> bytes);

// hash_block fed in pieces, in order: a block can be hashed piece by piece
// alongside the arithmetic on the same bytes, while they are in cache.
class BlockHasher {
 public:
  BlockHasher();
  ~BlockHasher();
  BlockHasher(const BlockHasher&) = delete;
  BlockHasher& operator=(const BlockHasher&) = delete;
  void update(std::span<const std::byte> bytes);
  std::uint64_t digest() const;  // equals hash_block of everything fed so far

 private:
  void* state_;  // XXH3_state_t, kept out of this header
};

std::uint64_t combine_block_hashes(const std::vector<std::uint64_t>& block_hashes);
// Whole-tensor convenience (single-threaded).
std::uint64_t hash_tensor(std::span<const std::byte> bytes, std::size_t element_size);
std::string hash_to_hex(std::uint64_t hash);

}  // namespace paramdelta::engine
