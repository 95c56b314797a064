// A matrix product whose every output element is summed in one fixed order,
// whatever the number of rows, the blocking, the thread count or the CPU's
// vector width.
//
// A BLAS does not promise that: OpenBLAS computes a row with different edge
// kernels depending on where it falls in the batch, so the same sequence gives
// logits that differ in the last bits alone and in a batch of 5, and a greedy
// argmax near a tie can flip. Decoding steps use this product instead, so a
// prompt generates the same tokens alone or batched with any others.
#pragma once

#include <cstddef>

namespace paramdelta::eval {

// out[m][n] (+)= sum_k a[m][k] * b[n][k], for a weight b stored [n][k].
// Each element is the sum of eight interleaved partial sums (k mod 8, in
// ascending k), combined in a fixed tree, plus the k mod 8 tail in ascending
// order; no fused multiply-add, so every x86-64 computes the same bits.
// `accumulate` adds the sum to out instead of overwriting it. Runs on the
// evaluation's compute threads (set_compute_threads) when the product is large.
void matmul_bt_invariant(const float* a, std::size_t lda, const float* b, std::size_t ldb, float* out,
                         std::size_t ldc, std::size_t m, std::size_t n, std::size_t k,
                         bool accumulate = false);

}  // namespace paramdelta::eval
