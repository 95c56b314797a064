// The batch-invariant product: its documented summation order, bit for bit,
// and a row's result independent of the batch, the columns and the threads.
#include "eval/invariant_matmul.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "paramdelta/model.h"

namespace paramdelta::eval {
namespace {

std::vector<float> random_values(std::size_t count, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> values(count);
  for (float& v : values) v = normal(rng);
  return values;
}

// The order the header documents, one element at a time in scalar code:
// eight partial sums over k mod 8, combined ((0+4)+(2+6))+((1+5)+(3+7)),
// plus the tail in ascending k.
float documented_dot(const float* a, const float* b, std::size_t k) {
  float partial[8] = {};
  const std::size_t whole = k - k % 8;
  for (std::size_t i = 0; i < whole; ++i) {
    const float product = a[i] * b[i];
    partial[i % 8] = partial[i % 8] + product;
  }
  float tail = 0.0f;
  for (std::size_t i = whole; i < k; ++i) {
    const float product = a[i] * b[i];
    tail = tail + product;
  }
  const float lanes = ((partial[0] + partial[4]) + (partial[2] + partial[6])) +
                      ((partial[1] + partial[5]) + (partial[3] + partial[7]));
  return lanes + tail;
}

bool same_bits(const float* a, const float* b, std::size_t count) {
  return std::memcmp(a, b, count * sizeof(float)) == 0;
}

struct Shape {
  std::size_t m, n, k;
};

TEST(InvariantMatmul, EveryElementIsTheDocumentedSumBitForBit) {
  for (const Shape s : {Shape{1, 1, 1}, Shape{3, 5, 7}, Shape{2, 4, 8}, Shape{5, 9, 29}, Shape{7, 13, 64},
                        Shape{16, 37, 259}}) {
    const std::vector<float> a = random_values(s.m * s.k, 1), b = random_values(s.n * s.k, 2);
    std::vector<float> out(s.m * s.n);
    matmul_bt_invariant(a.data(), s.k, b.data(), s.k, out.data(), s.n, s.m, s.n, s.k);
    for (std::size_t r = 0; r < s.m; ++r) {
      for (std::size_t c = 0; c < s.n; ++c) {
        const float expected = documented_dot(a.data() + r * s.k, b.data() + c * s.k, s.k);
        ASSERT_TRUE(same_bits(&out[r * s.n + c], &expected, 1))
            << "m=" << s.m << " n=" << s.n << " k=" << s.k << " at [" << r << "][" << c
            << "]: " << out[r * s.n + c] << " vs " << expected;
        double exact = 0;
        for (std::size_t i = 0; i < s.k; ++i) exact += double{a[r * s.k + i]} * b[c * s.k + i];
        EXPECT_NEAR(out[r * s.n + c], exact, 1e-4 * (1 + std::abs(exact)));
      }
    }
  }
}

TEST(InvariantMatmul, AccumulateAddsToTheOutputAndStridesAreHonoured) {
  const std::size_t m = 3, n = 6, k = 19, lda = 23, ldb = 20, ldc = 9;
  const std::vector<float> a = random_values(m * lda, 3), b = random_values(n * ldb, 4);
  std::vector<float> out = random_values(m * ldc, 5);
  const std::vector<float> before = out;
  matmul_bt_invariant(a.data(), lda, b.data(), ldb, out.data(), ldc, m, n, k, /*accumulate=*/true);
  for (std::size_t r = 0; r < m; ++r) {
    for (std::size_t c = 0; c < ldc; ++c) {
      const float expected =
          c < n ? before[r * ldc + c] + documented_dot(a.data() + r * lda, b.data() + c * ldb, k)
                : before[r * ldc + c];
      EXPECT_TRUE(same_bits(&out[r * ldc + c], &expected, 1)) << r << "," << c;  // padding untouched
    }
  }
}

// What batching must not change: a row's logits alone, in any batch, at any
// place in it, over any split of the columns, on one thread or several.
TEST(InvariantMatmul, ARowIsTheSameAloneInABatchAndOnSeveralThreads) {
  const std::size_t m = 13, n = 1030, k = 264;  // large enough for the parallel path (m*n*k > 2^20)
  const std::vector<float> a = random_values(m * k, 6), b = random_values(n * k, 7);
  const int threads_before = compute_threads();
  set_compute_threads(1);
  std::vector<float> batch(m * n);
  matmul_bt_invariant(a.data(), k, b.data(), k, batch.data(), n, m, n, k);
  for (std::size_t r = 0; r < m; ++r) {
    std::vector<float> alone(n);
    matmul_bt_invariant(a.data() + r * k, k, b.data(), k, alone.data(), n, 1, n, k);
    EXPECT_TRUE(same_bits(alone.data(), batch.data() + r * n, n)) << "row " << r;
  }
  for (std::size_t first = 0; first < m; first += 3) {  // sub-batches starting at odd and even rows
    const std::size_t rows = std::min<std::size_t>(5, m - first);
    std::vector<float> part(rows * n);
    matmul_bt_invariant(a.data() + first * k, k, b.data(), k, part.data(), n, rows, n, k);
    EXPECT_TRUE(same_bits(part.data(), batch.data() + first * n, rows * n)) << "rows from " << first;
  }
  std::vector<float> split(m * n);
  for (std::size_t c0 = 0; c0 < n; c0 += 7) {  // columns in odd-sized groups
    const std::size_t cols = std::min<std::size_t>(7, n - c0);
    matmul_bt_invariant(a.data(), k, b.data() + c0 * k, k, split.data() + c0, n, m, cols, k);
  }
  EXPECT_TRUE(same_bits(split.data(), batch.data(), m * n));
  set_compute_threads(3);
  std::vector<float> threaded(m * n);
  matmul_bt_invariant(a.data(), k, b.data(), k, threaded.data(), n, m, n, k);
  EXPECT_TRUE(same_bits(threaded.data(), batch.data(), m * n));
  set_compute_threads(threads_before);
}

}  // namespace
}  // namespace paramdelta::eval
