// The TIES and DARE kernels against their definitions: the magnitude cut
// against a stable sort of the whole tensor, the random drop against its
// rate and its independence from the caller, the sign election on hand-worked
// elements.
#include "engine/merge_kernels.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

namespace paramdelta::engine {
namespace {

// Values with many exact ties, as a bf16 tensor has: a few bits of mantissa.
std::vector<double> tied_values(std::size_t n, std::uint64_t seed, double zero_fraction) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> mantissa(0, 15), exponent(-12, -4), sign(0, 1);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> v(n);
  for (auto& x : v) {
    x = u(rng) < zero_fraction ? 0.0 : std::ldexp(1.0 + mantissa(rng) / 16.0, exponent(rng));
    if (sign(rng)) x = -x;
  }
  return v;
}

// The definition: the `keep` largest magnitudes (as float32), equal ones in
// index order.
std::vector<bool> kept_by_sorting(const std::vector<double>& v, std::uint64_t keep) {
  std::vector<std::size_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return static_cast<float>(std::fabs(v[a])) > static_cast<float>(std::fabs(v[b]));
  });
  std::vector<bool> kept(v.size(), false);
  for (std::uint64_t i = 0; i < std::min<std::uint64_t>(keep, v.size()); ++i) kept[order[i]] = true;
  return kept;
}

MagnitudeCut cut_of(const std::vector<double>& v, std::uint64_t keep,
                    std::atomic<std::size_t>* reads = nullptr, ThreadPool* pool = nullptr) {
  return find_magnitude_cut(
      v.size(), keep,
      [&](std::uint64_t begin, std::uint64_t end, double* out) {
        EXPECT_LE(end, v.size());
        EXPECT_LE(end - begin, std::uint64_t{1} << 16);  // a bounded buffer, whatever the tensor's size
        std::copy(v.begin() + static_cast<std::ptrdiff_t>(begin),
                  v.begin() + static_cast<std::ptrdiff_t>(end), out);
        if (reads) ++*reads;
      },
      pool);
}

TEST(MagnitudeCut, KeepsExactlyTheLargestWithTiesInIndexOrder) {
  // Over several read blocks, with heavy ties and a third of the values zero.
  const std::vector<double> v = tied_values(150'001, 3, 0.3);
  for (std::uint64_t keep : {std::uint64_t{1}, std::uint64_t{2}, std::uint64_t{777}, std::uint64_t{30'000},
                             std::uint64_t{100'000}, std::uint64_t{104'000}, std::uint64_t{150'000}}) {
    const MagnitudeCut cut = cut_of(v, keep);
    const std::vector<bool> expected = kept_by_sorting(v, keep);
    std::uint64_t count = 0, wrong = 0;
    for (std::size_t i = 0; i < v.size(); ++i) {
      const bool k = cut.keeps(v[i], i);
      count += k;
      wrong += k != expected[i];
    }
    EXPECT_EQ(count, keep) << "keep " << keep;
    EXPECT_EQ(wrong, 0u) << "keep " << keep;
    // Blocks read by several threads give the same cut.
    ThreadPool pool(3);
    const MagnitudeCut parallel = cut_of(v, keep, nullptr, &pool);
    EXPECT_EQ(parallel.magnitude_bits(), cut.magnitude_bits());
    EXPECT_EQ(parallel.tie_end(), cut.tie_end());
  }
}

TEST(MagnitudeCut, KeepingAllOrNoneNeedsNoPass) {
  const std::vector<double> v = tied_values(1000, 4, 0.0);
  std::atomic<std::size_t> reads = 0;
  const MagnitudeCut all = cut_of(v, 1000, &reads);
  const MagnitudeCut none = cut_of(v, 0, &reads);
  EXPECT_EQ(reads, 0u);
  for (std::size_t i = 0; i < v.size(); ++i) {
    EXPECT_TRUE(all.keeps(v[i], i));
    EXPECT_FALSE(none.keeps(v[i], i));
  }
  EXPECT_TRUE(all.keeps(0.0, 0));
}

TEST(MagnitudeCut, AllEqualValuesAreKeptByIndex) {
  const std::vector<double> v(5000, -0.25);
  const MagnitudeCut cut = cut_of(v, 1234);
  EXPECT_EQ(cut.tie_end(), 1234u);
  EXPECT_TRUE(cut.keeps(-0.25, 1233));
  EXPECT_FALSE(cut.keeps(-0.25, 1234));
  EXPECT_TRUE(cut.keeps(0.5, 4999));  // larger than the cut: kept at any index
}

TEST(MagnitudeCut, SignDoesNotMatter) {
  const std::vector<double> v = {-3.0, 1.0, 2.0, -0.5, 2.0};
  const MagnitudeCut cut = cut_of(v, 2);
  EXPECT_TRUE(cut.keeps(v[0], 0));
  EXPECT_TRUE(cut.keeps(v[2], 2));
  EXPECT_FALSE(cut.keeps(v[4], 4));  // ties with element 2, which comes first
  EXPECT_FALSE(cut.keeps(v[1], 1));
}

TEST(DropMask, KeepsAboutDensityOfTheElements) {
  for (double density : {0.1, 0.5, 0.9}) {
    const DropMask mask(42, 0, "model.layers.0.mlp.up_proj.weight", density);
    std::size_t kept = 0;
    const std::size_t n = 1'000'000;
    for (std::size_t i = 0; i < n; ++i) kept += mask.keeps(i);
    // The binomial's standard deviation is at most 500 here: 5 of them.
    EXPECT_NEAR(static_cast<double>(kept), density * n, 2500.0) << density;
  }
}

TEST(DropMask, DensityOneKeepsEverything) {
  const DropMask mask(7, 3, "x", 1.0);
  for (std::uint64_t i = 0; i < 100'000; ++i) ASSERT_TRUE(mask.keeps(i)) << i;
}

TEST(DropMask, DependsOnSeedInputAndTensorOnly) {
  const std::size_t n = 100'000;
  auto decisions = [&](std::uint64_t seed, std::size_t input, const char* tensor) {
    const DropMask mask(seed, input, tensor, 0.5);
    std::vector<bool> d(n);
    for (std::size_t i = 0; i < n; ++i) d[i] = mask.keeps(i);
    return d;
  };
  const auto reference = decisions(1, 0, "a");
  EXPECT_EQ(decisions(1, 0, "a"), reference);
  // Asked in any order, an element gets the same answer.
  const DropMask mask(1, 0, "a", 0.5);
  for (std::size_t i = n; i-- > 0;) ASSERT_EQ(mask.keeps(i), reference[i]);
  // Other streams agree on about half of the elements (independent draws).
  for (const auto& other : {decisions(2, 0, "a"), decisions(1, 1, "a"), decisions(1, 0, "b")}) {
    std::size_t same = 0;
    for (std::size_t i = 0; i < n; ++i) same += other[i] == reference[i];
    EXPECT_NEAR(static_cast<double>(same), n / 2.0, 1000.0);
  }
}

TEST(DropMask, AppliedToAnyRangeMatchesTheDecisionOfEachElement) {
  const DropMask mask(9, 2, "t", 0.3);
  for (std::uint64_t begin : {0u, 1u, 6u, 7u}) {
    for (std::size_t n : {0u, 1u, 2u, 5u, 1000u}) {
      std::vector<double> v(n, 2.0);
      apply_drop_mask(mask, 0.3, begin, n, v.data());
      for (std::size_t e = 0; e < n; ++e)
        ASSERT_EQ(v[e], mask.keeps(begin + e) ? 2.0 * (1.0 / 0.3) : 0.0) << begin << " " << e;
    }
  }
}

TEST(NonFinite, FindsTheFirstNaNOrInfinityAnywhere) {
  std::vector<double> v(5000, 1.5);
  EXPECT_EQ(find_non_finite(v.data(), v.size()), v.size());
  for (std::size_t at : {0u, 7u, 1023u, 1024u, 4097u, 4999u}) {
    for (double bad : {std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(),
                       std::numeric_limits<double>::quiet_NaN()}) {
      std::vector<double> w = v;
      w[at] = bad;
      if (at + 3 < w.size()) w[at + 3] = bad;
      EXPECT_EQ(find_non_finite(w.data(), w.size()), at);
    }
  }
  v[10] = std::numeric_limits<double>::max();  // huge but finite
  v[11] = -0.0;
  v[12] = std::numeric_limits<double>::denorm_min();
  EXPECT_EQ(find_non_finite(v.data(), v.size()), v.size());
}

TEST(SignConsensus, AveragesTheInputsThatAgreeWithTheWeightedSum) {
  // Columns are elements; rows are inputs.
  const std::vector<double> a = {1.0, 1.0, 0.0, 2.0, -1.0, 0.0};
  const std::vector<double> b = {3.0, 3.0, 2.0, -2.0, 1.0, 0.0};
  const std::vector<double> c = {-2.0, -2.0, 0.0, 0.0, 0.0, 0.0};
  const double* values[] = {a.data(), b.data(), c.data()};
  std::vector<double> out(a.size());

  const double equal[] = {1.0, 1.0, 1.0};
  merge_sign_consensus(values, equal, 3, a.size(), out.data());
  EXPECT_EQ(out[0], 2.0);  // sum +2: mean of 1 and 3
  EXPECT_EQ(out[2], 2.0);  // zeros do not vote and are not averaged
  EXPECT_EQ(out[3], 0.0);  // +2 and -2 cancel: no sign is elected
  EXPECT_EQ(out[4], 0.0);
  EXPECT_EQ(out[5], 0.0);

  const double heavy_c[] = {1.0, 1.0, 3.0};
  merge_sign_consensus(values, heavy_c, 3, a.size(), out.data());
  EXPECT_EQ(out[1], -2.0);  // 1 + 3 − 6 < 0: only c agrees; (3·−2)/3
  const double weighted[] = {1.0, 3.0, 1.0};
  merge_sign_consensus(values, weighted, 3, a.size(), out.data());
  EXPECT_EQ(out[0], (1.0 + 9.0) / 4.0);  // weighted mean of the agreeing inputs
  EXPECT_EQ(out[4], 1.0);                // −1 + 3 > 0: b alone
}

TEST(WeightedSum, SumsInInputOrder) {
  const std::vector<double> a = {1.0, 0.5}, b = {2.0, -0.25};
  const double* values[] = {a.data(), b.data()};
  const double w[] = {0.5, 2.0};
  std::vector<double> out(2);
  merge_weighted_sum(values, w, 2, 2, out.data());
  EXPECT_EQ(out[0], 4.5);
  EXPECT_EQ(out[1], -0.25);
}

}  // namespace
}  // namespace paramdelta::engine
