// The sums behind analyze's statistics: against long-double sums, with zeros,
// sign conflicts and non-finite values.
#include "engine/vector_stats.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace paramdelta::engine {
namespace {

TEST(VectorStats, PairSumsMatchLongDoubleSums) {
  std::mt19937_64 rng(3);
  std::normal_distribution<double> normal;
  std::vector<double> d(10007), v(10007);
  long double dd = 0, vv = 0, dv = 0;
  for (std::size_t i = 0; i < d.size(); ++i) {
    d[i] = normal(rng);
    v[i] = 0.5 * d[i] + normal(rng);
    dd += static_cast<long double>(d[i]) * d[i];
    vv += static_cast<long double>(v[i]) * v[i];
    dv += static_cast<long double>(d[i]) * v[i];
  }
  PairSums s;
  accumulate_pair_sums(d.data(), v.data(), d.size(), s);
  EXPECT_NEAR(s.dd, static_cast<double>(dd), 1e-12 * s.dd);
  EXPECT_NEAR(s.vv, static_cast<double>(vv), 1e-12 * s.vv);
  EXPECT_NEAR(s.dv, static_cast<double>(dv), 1e-12 * std::fabs(s.dv));
  EXPECT_EQ(s.elements, d.size());
  EXPECT_EQ(s.skipped, 0u);
}

TEST(VectorStats, SignConflictsCountOnlyElementsWhereBothAreNonZero) {
  const std::vector<double> d{1, -1, 2, 0, -3, 4, -0.0};
  const std::vector<double> v{1, 1, -2, 5, -3, 0, -1};
  PairSums s;
  accumulate_pair_sums(d.data(), v.data(), d.size(), s);
  EXPECT_EQ(s.both_nonzero, 4u);    // (1,1) (-1,1) (2,-2) (-3,-3)
  EXPECT_EQ(s.opposite_signs, 2u);  // (-1,1) (2,-2)
  EXPECT_EQ(s.dv, 1 - 1 - 4 + 0 + 9 + 0 + 0);
}

TEST(VectorStats, NonFiniteElementsAreSkippedNotSummed) {
  const std::vector<double> d{1, NAN, 2, INFINITY, 3};
  const std::vector<double> v{1, 1, -INFINITY, 1, 2};
  PairSums s;
  accumulate_pair_sums(d.data(), v.data(), d.size(), s);
  EXPECT_EQ(s.skipped, 3u);
  EXPECT_EQ(s.elements, 2u);
  EXPECT_EQ(s.dd, 1 + 9);
  EXPECT_EQ(s.vv, 1 + 4);
  EXPECT_EQ(s.dv, 1 + 6);

  VectorSums one;
  accumulate_vector_sums(d.data(), d.size(), one);
  EXPECT_EQ(one.non_finite, 2u);
  EXPECT_EQ(one.finite, 3u);
  EXPECT_EQ(one.squares, 1 + 4 + 9);
  EXPECT_EQ(one.max_abs, 3);
}

TEST(VectorStats, VectorSumsCountZerosAndKeepTheLargestMagnitudeAcrossCalls) {
  const std::vector<double> a{0, -7, 0.5, -0.0}, b{6, 0};
  VectorSums s;
  accumulate_vector_sums(a.data(), a.size(), s);
  accumulate_vector_sums(b.data(), b.size(), s);
  EXPECT_EQ(s.zeros, 3u);
  EXPECT_EQ(s.max_abs, 7);
  EXPECT_EQ(s.squares, 49 + 0.25 + 36);
  VectorSums t;
  t.add(s);
  t.add(s);
  EXPECT_EQ(t.zeros, 6u);
  EXPECT_EQ(t.max_abs, 7);
}

}  // namespace
}  // namespace paramdelta::engine
