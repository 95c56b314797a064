#include "engine/vector_stats.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "engine/multiversion.h"

// The lane helpers below pass 32-byte vectors by value; they are inlined into
// the loops, so the ABI note that GCC and clang give for builds without AVX
// does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace paramdelta::engine {

void VectorSums::add(const VectorSums& other) {
  squares += other.squares;
  max_abs = std::max(max_abs, other.max_abs);
  finite += other.finite;
  zeros += other.zeros;
  non_finite += other.non_finite;
}

void PairSums::add(const PairSums& other) {
  dd += other.dd;
  vv += other.vv;
  dv += other.dv;
  elements += other.elements;
  both_nonzero += other.both_nonzero;
  opposite_signs += other.opposite_signs;
  skipped += other.skipped;
}

namespace {

// Element i goes to lane i mod 4 of GCC vector-extension registers (two SSE2
// or one AVX2 register), combined at the end in a fixed tree. No branches:
// comparisons give lane masks (all ones or zero) that select and count.
using Doubles = double __attribute__((vector_size(32)));
using Mask = std::int64_t __attribute__((vector_size(32)));
constexpr std::size_t kLanes = 4;
constexpr Mask kMagnitudeBits = {INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX};

Doubles load(const double* p) {
  Doubles v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
// The last n % 4 elements, zero-padded.
Doubles load_tail(const double* p, std::size_t count) {
  double lanes[kLanes] = {};
  std::memcpy(lanes, p, count * sizeof(double));
  return load(lanes);
}
Doubles magnitude(Doubles x) { return reinterpret_cast<Doubles>(reinterpret_cast<Mask>(x) & kMagnitudeBits); }
Doubles keep(Doubles x, Mask m) { return reinterpret_cast<Doubles>(reinterpret_cast<Mask>(x) & m); }
double lane_sum(Doubles v) { return (v[0] + v[1]) + (v[2] + v[3]); }
// Masks are -1 where true: subtracting them counts.
std::uint64_t lane_count(Mask negated_counts) {
  return static_cast<std::uint64_t>(
      -((negated_counts[0] + negated_counts[1]) + (negated_counts[2] + negated_counts[3])));
}

struct VectorLanes {
  Doubles squares = {};
  Doubles max_abs = {};
  Mask zeros = {};
  Mask non_finite = {};

  void step(Doubles x) {
    const Doubles m = magnitude(x);
    const Mask finite = m <= DBL_MAX;
    const Doubles kept = keep(m, finite);
    squares += kept * kept;
    const Mask larger = kept > max_abs;
    max_abs = reinterpret_cast<Doubles>((reinterpret_cast<Mask>(kept) & larger) |
                                        (reinterpret_cast<Mask>(max_abs) & ~larger));
    zeros += m == 0;
    non_finite += ~finite;
  }
};

struct PairLanes {
  Doubles dd = {};
  Doubles vv = {};
  Doubles dv = {};
  Mask both = {};
  Mask opposite = {};
  Mask skipped = {};

  void step(Doubles a, Doubles b) {
    const Mask finite = (magnitude(a) <= DBL_MAX) & (magnitude(b) <= DBL_MAX);
    const Doubles x = keep(a, finite);
    const Doubles y = keep(b, finite);
    dd += x * x;
    vv += y * y;
    dv += x * y;
    const Mask nonzero = (x != 0) & (y != 0);
    both += nonzero;
    opposite += nonzero & ((x < 0) ^ (y < 0));
    skipped += ~finite;
  }
};

}  // namespace

PARAMDELTA_MULTIVERSION
void accumulate_vector_sums(const double* d, std::size_t n, VectorSums& sums) {
  VectorLanes lanes;
  std::size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) lanes.step(load(d + i));
  const std::size_t padding = i < n ? kLanes - (n - i) : 0;
  if (i < n) lanes.step(load_tail(d + i, n - i));
  sums.squares += lane_sum(lanes.squares);
  for (std::size_t l = 0; l < kLanes; ++l) sums.max_abs = std::max(sums.max_abs, lanes.max_abs[l]);
  const std::uint64_t non_finite = lane_count(lanes.non_finite);
  sums.finite += n - non_finite;
  sums.zeros += lane_count(lanes.zeros) - padding;
  sums.non_finite += non_finite;
}

PARAMDELTA_MULTIVERSION
void accumulate_pair_sums(const double* d, const double* v, std::size_t n, PairSums& sums) {
  PairLanes lanes;
  std::size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) lanes.step(load(d + i), load(v + i));
  if (i < n) lanes.step(load_tail(d + i, n - i), load_tail(v + i, n - i));  // zero pairs add nothing
  sums.dd += lane_sum(lanes.dd);
  sums.vv += lane_sum(lanes.vv);
  sums.dv += lane_sum(lanes.dv);
  const std::uint64_t skipped = lane_count(lanes.skipped);
  sums.elements += n - skipped;
  sums.both_nonzero += lane_count(lanes.both);
  sums.opposite_signs += lane_count(lanes.opposite);
  sums.skipped += skipped;
}

}  // namespace paramdelta::engine
