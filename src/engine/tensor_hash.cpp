#include "engine/tensor_hash.h"

#include <xxhash.h>
// On x86-64 the library also exports entry points that pick its AVX2 code on
// CPUs that have it (same hash values); this header routes XXH3 calls to them.
#if defined(__x86_64__) && __has_include(<xxh_x86dispatch.h>)
#include <xxh_x86dispatch.h>
#endif

#include <cstdio>
#include <new>

namespace paramdelta::engine {

std::uint64_t hash_block(std::span<const std::byte> bytes) { return XXH3_64bits(bytes.data(), bytes.size()); }

BlockHasher::BlockHasher() : state_(XXH3_createState()) {
  if (state_ == nullptr) throw std::bad_alloc();
  XXH3_64bits_reset(static_cast<XXH3_state_t*>(state_));
}

BlockHasher::~BlockHasher() { XXH3_freeState(static_cast<XXH3_state_t*>(state_)); }

void BlockHasher::update(std::span<const std::byte> bytes) {
  XXH3_64bits_update(static_cast<XXH3_state_t*>(state_), bytes.data(), bytes.size());
}

std::uint64_t BlockHasher::digest() const {
  return XXH3_64bits_digest(static_cast<const XXH3_state_t*>(state_));
}

std::uint64_t combine_block_hashes(const std::vector<std::uint64_t>& block_hashes) {
  std::vector<unsigned char> le(block_hashes.size() * 8);
  for (std::size_t i = 0; i < block_hashes.size(); ++i) {
    for (int b = 0; b < 8; ++b)
      le[i * 8 + b] = static_cast<unsigned char>((block_hashes[i] >> (8 * b)) & 0xff);
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
