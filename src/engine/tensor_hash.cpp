#include "engine/tensor_hash.h"

#include <xxhash.h>

#include <cstdio>

namespace paramdelta::engine {

std::uint64_t hash_block(std::span<const std::byte> bytes) { return XXH3_64bits(bytes.data(), bytes.size()); }

std::uint64_t combine_block_hashes(const std::vector<std::uint64_t>& block_hashes) {
  std::vector<unsigned char> le(block_hashes.size() * 8);
  for (std::size_t i = 0; i < block_hashes.size(); ++i) {
    for (int b = 0; b < 8; ++b) le[i * 8 + b] = static_cast<unsigned char>((block_hashes[i] >> (8 * b)) & 0xff);
  }
  return XXH3_64bits(le.data(), le.size());
}

std::uint64_t hash_tensor(std::span<const std::byte> bytes, std::size_t element_size) {
  const std::size_t block_bytes = kHashBlockElements * element_size;
  std::vector<std::uint64_t> blocks;
  for (std::size_t off = 0; off < bytes.size(); off += block_bytes) {
    blocks.push_back(hash_block(bytes.subspan(off, std::min(block_bytes, bytes.size() - off))));
  }
  return combine_block_hashes(blocks);
}

std::string hash_to_hex(std::uint64_t hash) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(hash));
  return buf;
}

}  // namespace paramdelta::engine
