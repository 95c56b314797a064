// The sums that analyze's norms, ratios and cosines are made of. Each call
// accumulates in four interleaved lanes combined in a fixed order, and the
// callers feed fixed tiles of fixed chunks, so a result is the same whatever
// the thread count.
#pragma once

#include <cstddef>
#include <cstdint>

namespace paramdelta::engine {

// One vector on its own: Σd², max |d|, how many elements are zero, and how
// many are NaN or infinite (left out of everything else).
struct VectorSums {
  double squares = 0;
  double max_abs = 0;
  std::uint64_t finite = 0;
  std::uint64_t zeros = 0;
  std::uint64_t non_finite = 0;
  void add(const VectorSums& other);
};
void accumulate_vector_sums(const double* d, std::size_t n, VectorSums& sums);

// Two vectors over the same elements: Σd², Σv², Σd·v, and how many elements
// have both non-zero and of opposite signs. Elements where either value is
// NaN or infinite are counted in `skipped` and left out of the sums.
struct PairSums {
  double dd = 0;
  double vv = 0;
  double dv = 0;
  std::uint64_t elements = 0;
  std::uint64_t both_nonzero = 0;
  std::uint64_t opposite_signs = 0;
  std::uint64_t skipped = 0;
  void add(const PairSums& other);
};
void accumulate_pair_sums(const double* d, const double* v, std::size_t n, PairSums& sums);

}  // namespace paramdelta::engine
