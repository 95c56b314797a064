#include "engine/merge_kernels.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <vector>

#include "engine/multiversion.h"

namespace paramdelta::engine {

namespace {

std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t h = 0xCBF29CE484222325ull;
  for (unsigned char c : text) h = (h ^ c) * 0x100000001B3ull;
  return h;
}

constexpr std::uint64_t kScanBlock = std::uint64_t{1} << 16;
constexpr std::size_t kBuckets = std::size_t{1} << 16;

// Runs visit(block, worker, bits, count) over the tensor's blocks of
// kScanBlock elements, in parallel when a pool is given; `bits` holds the
// block's magnitude bits.
template <typename Visit>
void scan_blocks(std::uint64_t n, const ValueReader& read, ThreadPool* pool, Visit&& visit) {
  const std::size_t blocks = static_cast<std::size_t>((n + kScanBlock - 1) / kScanBlock);
  const std::size_t workers = pool ? static_cast<std::size_t>(pool->size()) : 1;
  std::vector<std::vector<double>> values(workers);
  std::vector<std::vector<std::uint32_t>> bits(workers);
  auto one = [&](std::size_t block, int worker) {
    const std::uint64_t begin = block * kScanBlock, end = std::min(n, begin + kScanBlock);
    const std::size_t count = static_cast<std::size_t>(end - begin);
    auto& v = values[static_cast<std::size_t>(worker)];
    auto& b = bits[static_cast<std::size_t>(worker)];
    v.resize(count);
    b.resize(count);
    read(begin, end, v.data());
    for (std::size_t i = 0; i < count; ++i) b[i] = MagnitudeCut::magnitude_bits_of(v[i]);
    visit(block, worker, b.data(), count);
  };
  if (pool && blocks > 1) {
    pool->parallel_for(blocks, one);
  } else {
    for (std::size_t block = 0; block < blocks; ++block) one(block, 0);
  }
}

// One histogram of 16-bit digits per worker, summed. A digit of kBuckets
// counts nowhere (a slot of its own, to keep the loop free of branches).
template <typename Digit>
std::vector<std::uint64_t> histogram(std::uint64_t n, const ValueReader& read, ThreadPool* pool,
                                     Digit&& digit) {
  const std::size_t workers = pool ? static_cast<std::size_t>(pool->size()) : 1;
  std::vector<std::vector<std::uint64_t>> counts(workers);
  scan_blocks(n, read, pool, [&](std::size_t, int worker, const std::uint32_t* bits, std::size_t count) {
    auto& c = counts[static_cast<std::size_t>(worker)];
    if (c.empty()) c.assign(kBuckets + 1, 0);
    for (std::size_t i = 0; i < count; ++i) ++c[digit(bits[i])];
  });
  std::vector<std::uint64_t> total(kBuckets, 0);
  for (const auto& c : counts) {
    for (std::size_t i = 0; i < kBuckets && i < c.size(); ++i) total[i] += c[i];
  }
  return total;
}

// The bucket, counted down from the top, in which the running count reaches
// `keep`; `above` grows by the counts of the buckets above it.
std::uint32_t bucket_of_kth(const std::vector<std::uint64_t>& histogram, std::uint64_t keep,
                            std::uint64_t& above) {
  std::uint32_t b = kBuckets - 1;
  // The caller guarantees that the buckets hold more than `keep - above`.
  while (above + histogram[b] < keep) above += histogram[b--];
  return b;
}

}  // namespace

MagnitudeCut find_magnitude_cut(std::uint64_t n, std::uint64_t keep, const ValueReader& read,
                                ThreadPool* pool) {
  if (keep >= n) return MagnitudeCut::keep_all();
  if (keep == 0) return MagnitudeCut::keep_none();
  std::uint64_t above = 0;
  const auto high_digits =
      histogram(n, read, pool, [](std::uint32_t bits) { return std::size_t{bits >> 16}; });
  const std::uint32_t high = bucket_of_kth(high_digits, keep, above);
  const auto low_digits = histogram(n, read, pool, [high](std::uint32_t bits) {
    return (bits >> 16) == high ? std::size_t{bits & 0xFFFF} : kBuckets;
  });
  const std::uint32_t low = bucket_of_kth(low_digits, keep, above);
  const std::uint32_t cut = (high << 16) | low;
  const std::uint64_t needed = keep - above;  // of the elements equal to the cut, 1 to all
  if (needed == low_digits[low]) return MagnitudeCut(cut, UINT64_MAX);

  // The needed-th element equal to the cut, in index order: count them per
  // block, then look inside the block that holds it.
  const std::size_t blocks = static_cast<std::size_t>((n + kScanBlock - 1) / kScanBlock);
  std::vector<std::uint64_t> equal(blocks, 0);
  scan_blocks(n, read, pool, [&](std::size_t block, int, const std::uint32_t* bits, std::size_t count) {
    equal[block] = static_cast<std::uint64_t>(std::count(bits, bits + count, cut));
  });
  std::uint64_t seen = 0;
  std::size_t block = 0;
  while (seen + equal[block] < needed) seen += equal[block++];
  const std::uint64_t begin = block * kScanBlock, end = std::min(n, begin + kScanBlock);
  std::vector<double> values(static_cast<std::size_t>(end - begin));
  read(begin, end, values.data());
  for (std::uint64_t i = begin; i < end; ++i) {
    if (MagnitudeCut::magnitude_bits_of(values[i - begin]) == cut && ++seen == needed)
      return MagnitudeCut(cut, i + 1);
  }
  return MagnitudeCut(cut, UINT64_MAX);  // unreachable: the counts found the element in this block
}

PARAMDELTA_MULTIVERSION void apply_magnitude_cut(const MagnitudeCut& cut, std::uint64_t begin, std::size_t n,
                                                 double* values) {
  const std::uint32_t bits = cut.magnitude_bits();
  // Indices below the tie end, relative to `begin` (all, none, or a prefix).
  const std::uint64_t tie_end = cut.tie_end() <= begin ? 0 : cut.tie_end() - begin;
  const std::size_t split = static_cast<std::size_t>(std::min<std::uint64_t>(n, tie_end));
  // Two loops without branches (a branch on the values would be mispredicted
  // all the time): equal magnitudes are kept before the split, not after.
  for (std::size_t e = 0; e < split; ++e)
    values[e] = MagnitudeCut::magnitude_bits_of(values[e]) >= bits ? values[e] : 0.0;
  for (std::size_t e = split; e < n; ++e)
    values[e] = MagnitudeCut::magnitude_bits_of(values[e]) > bits ? values[e] : 0.0;
}

void apply_drop_mask(const DropMask& mask, double density, std::uint64_t begin, std::size_t n,
                     double* values) {
  // A table, not a branch: the drop is random by design, so a branch would
  // be mispredicted every few elements. One hash serves a pair of elements.
  const double factor[2] = {0.0, 1.0 / density};
  const std::uint64_t threshold = mask.threshold();
  std::size_t e = 0;
  if ((begin & 1) != 0 && n > 0) values[e++] *= factor[mask.keeps(begin) ? 1 : 0];
  for (; e + 2 <= n; e += 2) {
    const std::uint64_t bits = mask.pair_bits((begin + e) / 2);
    values[e] *= factor[DropMask::draw(bits, 0) < threshold ? 1 : 0];
    values[e + 1] *= factor[DropMask::draw(bits, 1) < threshold ? 1 : 0];
  }
  if (e < n) values[e] *= factor[mask.keeps(begin + e) ? 1 : 0];
}

PARAMDELTA_MULTIVERSION std::size_t find_non_finite(const double* values, std::size_t n) {
  // x·0 is 0 unless x is NaN or infinite: eight running sums per block (no
  // reassociation needed, so the loop vectorises), then a look inside the
  // block whose sums are not 0.
  constexpr std::size_t kBlock = 1024, kLanes = 8;
  for (std::size_t b = 0; b < n; b += kBlock) {
    const std::size_t end = std::min(n, b + kBlock);
    double lanes[kLanes] = {};
    std::size_t e = b;
    for (; e + kLanes <= end; e += kLanes) {
      for (std::size_t j = 0; j < kLanes; ++j) lanes[j] += values[e + j] * 0.0;
    }
    double sum = 0;
    for (std::size_t j = 0; j < kLanes; ++j) sum += lanes[j];
    for (; e < end; ++e) sum += values[e] * 0.0;
    if (sum == 0.0) continue;
    for (e = b; e < end; ++e) {
      if (!std::isfinite(values[e])) return e;
    }
  }
  return n;
}

DropMask::DropMask(std::uint64_t seed, std::size_t input, std::string_view tensor, double density)
    : key_(mix(seed ^ mix(fnv1a(tensor) ^ mix(static_cast<std::uint64_t>(input) + 1)))),
      threshold_(density >= 1.0 ? (std::uint64_t{1} << 32)
                                : static_cast<std::uint64_t>(std::ldexp(std::max(density, 0.0), 32))) {}

// Both merges go through the elements in tiles, input by input, so that
// each loop runs over contiguous arrays; the sums still add the inputs in
// order for every element.
constexpr std::size_t kTile = 256;

PARAMDELTA_MULTIVERSION void merge_sign_consensus(const double* const* values, const double* weights,
                                                  std::size_t k, std::size_t n, double* out) {
  double total[kTile], sign[kTile], agreeing[kTile], weight[kTile];
  for (std::size_t t0 = 0; t0 < n; t0 += kTile) {
    const std::size_t m = std::min(kTile, n - t0);
    for (std::size_t e = 0; e < m; ++e) total[e] = agreeing[e] = weight[e] = 0;
    for (std::size_t i = 0; i < k; ++i) {
      const double* x = values[i] + t0;
      for (std::size_t e = 0; e < m; ++e) total[e] += weights[i] * x[e];
    }
    for (std::size_t e = 0; e < m; ++e) sign[e] = total[e] > 0 ? 1.0 : total[e] < 0 ? -1.0 : 0.0;
    for (std::size_t i = 0; i < k; ++i) {
      const double* x = values[i] + t0;
      const double w = weights[i];
      for (std::size_t e = 0; e < m; ++e) {
        // x·sign is exact (the sign is ±1 or 0).
        const double agrees = x[e] * sign[e] > 0 ? 1.0 : 0.0;
        agreeing[e] += agrees * (w * x[e]);  // values are finite: 0·(w·x) is 0
        weight[e] += agrees * w;
      }
    }
    // Where no input agrees, `agreeing` is 0: divide it by 1.
    for (std::size_t e = 0; e < m; ++e)
      out[t0 + e] = agreeing[e] / (weight[e] + static_cast<double>(weight[e] == 0));
  }
}

PARAMDELTA_MULTIVERSION void merge_weighted_sum(const double* const* values, const double* weights,
                                                std::size_t k, std::size_t n, double* out) {
  for (std::size_t e = 0; e < n; ++e) out[e] = 0;
  for (std::size_t i = 0; i < k; ++i) {
    for (std::size_t e = 0; e < n; ++e) out[e] += weights[i] * values[i][e];
  }
}

}  // namespace paramdelta::engine
