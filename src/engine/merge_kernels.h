// The per-element pieces of the sparsifying merges of several deltas:
//   TIES (Yadav et al., 2023): keep each delta's largest-magnitude elements,
//     elect a sign per element, average the inputs that agree with it;
//   DARE (Yu et al., 2023): drop each element at random, rescale the rest.
// Every decision depends only on the element's index and value, never on how
// a tensor is cut into chunks or how many threads run, so a merge is
// reproducible bit for bit.
#pragma once

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>

#include "engine/thread_pool.h"

namespace paramdelta::engine {

// Which elements of one tensor are among its `keep` largest in magnitude:
// those whose magnitude is above the cut's, and of those equal to it, the
// ones with the lowest indices (so that exactly `keep` are kept even when
// many elements share a value, as they do in bf16). Magnitudes are compared
// as float32.
class MagnitudeCut {
 public:
  static MagnitudeCut keep_all() { return MagnitudeCut(0, UINT64_MAX); }
  static MagnitudeCut keep_none() { return MagnitudeCut(UINT32_MAX, 0); }
  MagnitudeCut(std::uint32_t magnitude_bits, std::uint64_t tie_end)
      : magnitude_bits_(magnitude_bits), tie_end_(tie_end) {}

  bool keeps(double value, std::uint64_t index) const {
    const std::uint32_t bits = magnitude_bits_of(value);
    return bits > magnitude_bits_ || (bits == magnitude_bits_ && index < tie_end_);
  }
  std::uint32_t magnitude_bits() const { return magnitude_bits_; }
  std::uint64_t tie_end() const { return tie_end_; }

  // |value| rounded to float32, as bits: ordered like the magnitudes.
  static std::uint32_t magnitude_bits_of(double value) {
    return std::bit_cast<std::uint32_t>(static_cast<float>(std::fabs(value)));
  }

 private:
  std::uint32_t magnitude_bits_;
  std::uint64_t tie_end_;  // elements equal to the cut are kept below this index
};

// Zeroes the elements [0, n) of `values` (elements begin… of a tensor) that
// the cut does not keep.
void apply_magnitude_cut(const MagnitudeCut& cut, std::uint64_t begin, std::size_t n, double* values);

// The index of the first NaN or infinity among values[0, n), or n.
std::size_t find_non_finite(const double* values, std::size_t n);

// Fills out[0, end - begin) with elements [begin, end) of the tensor.
using ValueReader = std::function<void(std::uint64_t begin, std::uint64_t end, double* out)>;

// The cut that keeps exactly min(keep, n) of n elements. An exact selection
// by the magnitudes' bits in up to three streaming passes over the values
// (two histograms of 16 bits each, then one to place the ties), holding one
// block of 2^16 values per thread and one counter per block. NaNs and
// infinities rank above every finite value (callers that refuse them check
// elsewhere). With a pool, blocks are read in parallel (the reader must
// allow it).
MagnitudeCut find_magnitude_cut(std::uint64_t n, std::uint64_t keep, const ValueReader& read,
                                ThreadPool* pool = nullptr);

// DARE's random drop for one input's tensor: element i is kept with
// probability `density`, decided by a hash of (seed, input, tensor, i): 32
// bits of one SplitMix64 output per element, two elements per output.
class DropMask {
 public:
  DropMask(std::uint64_t seed, std::size_t input, std::string_view tensor, double density);
  bool keeps(std::uint64_t index) const {
    return draw(pair_bits(index / 2), static_cast<unsigned>(index & 1)) < threshold_;
  }
  // The 64 random bits of elements 2·pair (low half) and 2·pair + 1 (high half).
  std::uint64_t pair_bits(std::uint64_t pair) const { return mix(key_ + (pair + 1) * 0x9E3779B97F4A7C15ull); }
  static std::uint64_t draw(std::uint64_t bits, unsigned half) {
    return (bits >> (32 * half)) & 0xFFFFFFFFull;
  }
  std::uint64_t threshold() const { return threshold_; }  // keep when the draw is below

  // SplitMix64's finaliser: a bijection of 64-bit words whose output bits
  // all depend on every input bit.
  static std::uint64_t mix(std::uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

 private:
  std::uint64_t key_;
  std::uint64_t threshold_;  // density · 2^32; 2^32 keeps everything
};

// DARE on values[0, n) (elements begin… of a tensor, finite): the dropped
// ones become 0, the kept ones are multiplied by 1/density.
void apply_drop_mask(const DropMask& mask, double density, std::uint64_t begin, std::size_t n,
                     double* values);

// TIES's merge of k inputs of n elements (values[i][e], weights > 0): per
// element the sign of Σ wᵢ·xᵢ is elected, and the result is the weighted mean
// of the inputs with that sign, Σ wᵢ·xᵢ / Σ wᵢ over them; 0 where the sum is
// 0. Zeros (dropped or trimmed elements) never count.
void merge_sign_consensus(const double* const* values, const double* weights, std::size_t k, std::size_t n,
                          double* out);

// Σ wᵢ·xᵢ, summed in input order.
void merge_weighted_sum(const double* const* values, const double* weights, std::size_t k, std::size_t n,
                        double* out);

}  // namespace paramdelta::engine
