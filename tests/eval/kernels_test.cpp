// The forward pass's building blocks on small cases worked out by hand.
#include "eval/kernels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <vector>

namespace paramdelta::eval {
namespace {

TEST(Kernels, RmsNormScalesByRootMeanSquareAndWeight) {
  // Row (3, 4): mean square 12.5; with eps 0.5 the divisor is sqrt(13).
  std::vector<float> x{3, 4, 0, 0, -2, 0};
  std::vector<float> w{1, 2};
  std::vector<float> out(6);
  rms_norm(x.data(), w.data(), out.data(), 3, 2, 0.5);
  EXPECT_NEAR(out[0], 3 / std::sqrt(13.0), 1e-6);
  EXPECT_NEAR(out[1], 2 * 4 / std::sqrt(13.0), 1e-6);
  EXPECT_EQ(out[2], 0.0f);  // an all-zero row stays zero (eps keeps the divisor positive)
  EXPECT_EQ(out[3], 0.0f);
  EXPECT_NEAR(out[4], -2 / std::sqrt(2.5), 1e-6);
  EXPECT_EQ(out[5], 0.0f);
}

TEST(Kernels, RopePairsElementIWithIPlusHalfHeadDim) {
  // head_dim 4: pairs (0,2) rotate by position*f0, (1,3) by position*f1.
  std::vector<double> inv_freq{1.0, 0.25};
  const std::vector<std::size_t> position{2};
  RopeTable table = rope_table(inv_freq, position);
  std::vector<float> x{1, 2, 3, 4};
  apply_rope(x.data(), 1, 4, 1, 4, table);
  const double a0 = 2 * 1.0, a1 = 2 * 0.25;
  EXPECT_NEAR(x[0], 1 * std::cos(a0) - 3 * std::sin(a0), 1e-6);
  EXPECT_NEAR(x[2], 3 * std::cos(a0) + 1 * std::sin(a0), 1e-6);
  EXPECT_NEAR(x[1], 2 * std::cos(a1) - 4 * std::sin(a1), 1e-6);
  EXPECT_NEAR(x[3], 4 * std::cos(a1) + 2 * std::sin(a1), 1e-6);
}

TEST(Kernels, RopeAtPositionZeroIsIdentityAndPreservesNorms) {
  std::vector<double> inv_freq{1.0, 0.1};
  const std::vector<std::size_t> positions{0, 1, 2};
  RopeTable table = rope_table(inv_freq, positions);
  // Two heads per row, rows at positions 0, 1, 2; stride 10 (padding must stay untouched).
  std::vector<float> x(30, 7.0f);
  for (int r = 0; r < 3; ++r)
    for (int i = 0; i < 8; ++i) x[r * 10 + i] = static_cast<float>(i + 1 + r);
  std::vector<float> before = x;
  apply_rope(x.data(), 3, 10, 2, 4, table);
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(x[i], before[i], 1e-6);
  for (int r = 0; r < 3; ++r) {
    for (int h = 0; h < 2; ++h) {
      for (int i = 0; i < 2; ++i) {
        const float* a = &x[r * 10 + h * 4];
        const float* b = &before[r * 10 + h * 4];
        EXPECT_NEAR(a[i] * a[i] + a[i + 2] * a[i + 2], b[i] * b[i] + b[i + 2] * b[i + 2], 1e-4);
      }
    }
    EXPECT_EQ(x[r * 10 + 8], 7.0f);
    EXPECT_EQ(x[r * 10 + 9], 7.0f);
  }
}

TEST(Kernels, CausalAttentionOnAHandComputedCase) {
  // One head, head_dim 2 (scale 1/sqrt 2), two tokens.
  std::vector<float> q{1, 0, 0, 1};
  std::vector<float> k{1, 0, 1, 1};
  std::vector<float> v{10, 20, 30, 40};
  std::vector<float> out(4);
  attention(q.data(), k.data(), v.data(), out.data(), 2, 0, 1, 1, 2, std::nullopt);
  // Token 0 sees only key 0.
  EXPECT_NEAR(out[0], 10, 1e-5);
  EXPECT_NEAR(out[1], 20, 1e-5);
  // Token 1: scores (0, 1)/sqrt(2) -> softmax weights.
  const double s = 1 / std::sqrt(2.0);
  const double w1 = std::exp(s) / (1 + std::exp(s));
  EXPECT_NEAR(out[2], (1 - w1) * 10 + w1 * 30, 1e-4);
  EXPECT_NEAR(out[3], (1 - w1) * 20 + w1 * 40, 1e-4);
}

TEST(Kernels, AttentionContinuesFromCachedPositions) {
  // The same two-token case, with token 0 already in the cache: only token 1's query is given.
  std::vector<float> q{0, 1};
  std::vector<float> k{1, 0, 1, 1};
  std::vector<float> v{10, 20, 30, 40};
  std::vector<float> out(2);
  attention(q.data(), k.data(), v.data(), out.data(), 1, 1, 1, 1, 2, std::nullopt);
  const double s = 1 / std::sqrt(2.0);
  const double w1 = std::exp(s) / (1 + std::exp(s));
  EXPECT_NEAR(out[0], (1 - w1) * 10 + w1 * 30, 1e-4);
  EXPECT_NEAR(out[1], (1 - w1) * 20 + w1 * 40, 1e-4);
}

TEST(Kernels, GroupedQueryHeadsShareTheirKeyValueHead) {
  // 4 query heads, 2 kv heads: heads 0,1 use kv head 0 and heads 2,3 use kv head 1.
  // With one token every head returns its kv head's value exactly.
  std::vector<float> q(8, 0.5f);
  std::vector<float> k{1, 2, 3, 4};
  std::vector<float> v{5, 6, 7, 8};
  std::vector<float> out(8);
  attention(q.data(), k.data(), v.data(), out.data(), 1, 0, 4, 2, 2, std::nullopt);
  EXPECT_EQ(out, (std::vector<float>{5, 6, 5, 6, 7, 8, 7, 8}));
}

TEST(Kernels, SlidingWindowLimitsHowFarBackAQuerySees) {
  // Window 2: token 2 sees keys 1 and 2 only. Identical keys give equal weights.
  const std::size_t n = 3;
  std::vector<float> q(n * 2, 1.0f), k(n * 2, 1.0f);
  std::vector<float> v{100, 100, 2, 2, 4, 4};
  std::vector<float> out(n * 2);
  attention(q.data(), k.data(), v.data(), out.data(), n, 0, 1, 1, 2, std::size_t{2});
  EXPECT_NEAR(out[0], 100, 1e-4);
  EXPECT_NEAR(out[2], 51, 1e-4);
  EXPECT_NEAR(out[4], 3, 1e-4);
  // Without the window, token 2 averages all three values.
  attention(q.data(), k.data(), v.data(), out.data(), n, 0, 1, 1, 2, std::nullopt);
  EXPECT_NEAR(out[4], 106 / 3.0, 1e-4);
}

TEST(Kernels, AttentionOverManyQueryBlocksMatchesDirectComputation) {
  // 300 tokens span three 128-query blocks; compare with a plain loop.
  const std::size_t n = 300, d = 4;
  std::vector<float> q(n * d), k(n * d), v(n * d), out(n * d);
  for (std::size_t i = 0; i < n * d; ++i) {
    q[i] = std::sin(0.37f * i);
    k[i] = std::cos(0.11f * i);
    v[i] = std::sin(0.05f * i + 1);
  }
  attention(q.data(), k.data(), v.data(), out.data(), n, 0, 1, 1, d, std::size_t{50});
  for (std::size_t t : {0u, 127u, 128u, 200u, 299u}) {
    std::vector<double> scores;
    const std::size_t lo = t + 1 > 50 ? t + 1 - 50 : 0;
    double max_score = -1e300;
    for (std::size_t j = lo; j <= t; ++j) {
      double s = 0;
      for (std::size_t i = 0; i < d; ++i) s += q[t * d + i] * k[j * d + i];
      scores.push_back(s / 2.0);
      max_score = std::max(max_score, s / 2.0);
    }
    double total = 0;
    for (double& s : scores) total += (s = std::exp(s - max_score));
    for (std::size_t i = 0; i < d; ++i) {
      double expected = 0;
      for (std::size_t j = lo; j <= t; ++j) expected += scores[j - lo] / total * v[j * d + i];
      EXPECT_NEAR(out[t * d + i], expected, 1e-5) << "token " << t;
    }
  }
}

TEST(Kernels, SiluGateMultipliesSiluOfGateByUp) {
  std::vector<float> gate_up{0, 1, -2, 3, 4, 5};  // one row, inter 3: gate (0,1,-2), up (3,4,5)
  std::vector<float> out(3);
  silu_gate(gate_up.data(), out.data(), 1, 3);
  EXPECT_NEAR(out[0], 0.0, 1e-7);
  EXPECT_NEAR(out[1], 1 / (1 + std::exp(-1.0)) * 4, 1e-6);
  EXPECT_NEAR(out[2], -2 / (1 + std::exp(2.0)) * 5, 1e-6);
}

TEST(Kernels, LogSumExpIsStableForLargeValues) {
  std::vector<float> row{1000, 1000, 1000 + static_cast<float>(std::log(2.0))};
  EXPECT_NEAR(log_sum_exp(row), 1000 + std::log(4.0), 1e-4);
  std::vector<float> small{-1000, -1000};
  EXPECT_NEAR(log_sum_exp(small), -1000 + std::log(2.0), 1e-4);
}

TEST(Kernels, MatmulBtWithOneRowMatchesTheGeneralCase) {
  // out = a · bᵀ; one row goes through the matrix-vector path.
  std::vector<float> a{1, 2, 3, 4, 5, 6};
  std::vector<float> b{1, 0, 1, 0, 1, 0, 2, 2, 2};
  std::vector<float> one(3), two(6);
  matmul_bt(a.data(), 3, b.data(), 3, one.data(), 3, 1, 3, 3);
  matmul_bt(a.data(), 3, b.data(), 3, two.data(), 3, 2, 3, 3);
  EXPECT_EQ(one, (std::vector<float>{4, 2, 12}));
  EXPECT_EQ(two, (std::vector<float>{4, 2, 12, 10, 5, 30}));
  matmul_bt(a.data(), 3, b.data(), 3, one.data(), 3, 1, 3, 3, /*accumulate=*/true);
  EXPECT_EQ(one, (std::vector<float>{8, 4, 24}));
}

}  // namespace
}  // namespace paramdelta::eval
