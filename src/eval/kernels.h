// The numerical building blocks of the forward pass, kept apart from the
// model plumbing so that each can be tested on small hand-computed cases.
// All matrices are row-major float32.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <vector>

namespace paramdelta::eval {

// out[m][n] = sum_k a[m][k] * b[n][k]  (a times b transposed: activations times
// a weight stored [out_features][in_features], as checkpoints store them).
// `lda`, `ldb`, `ldc` are row strides; `accumulate` adds to out instead of overwriting.
void matmul_bt(const float* a, std::size_t lda, const float* b, std::size_t ldb, float* out, std::size_t ldc,
               std::size_t m, std::size_t n, std::size_t k, bool accumulate = false);
// out[m][n] = sum_k a[m][k] * b[k][n]
void matmul(const float* a, std::size_t lda, const float* b, std::size_t ldb, float* out, std::size_t ldc,
            std::size_t m, std::size_t n, std::size_t k);

// RMSNorm: out[r] = x[r] / sqrt(mean(x[r]^2) + eps) * weight (the mean is taken in double).
void rms_norm(const float* x, const float* weight, float* out, std::size_t rows, std::size_t dim, double eps);

// Cosines and sines of RoPE angles position * inv_freq[i], one row per
// position (a batch may hold sequences at different lengths):
// [positions.size()][inv_freq.size()] each, computed in double.
struct RopeTable {
  std::vector<float> cos;
  std::vector<float> sin;
  std::size_t pairs = 0;
};
RopeTable rope_table(std::span<const double> inv_freq, std::span<const std::size_t> positions);

// Rotates each head of each row in place, pairing element i with element
// i + head_dim/2 (Hugging Face's rotate_half layout, which HF checkpoints'
// q/k projections are permuted for). Row r uses the table's row r.
void apply_rope(float* x, std::size_t rows, std::size_t row_stride, std::size_t heads, std::size_t head_dim,
                const RopeTable& table);

// Causal multi-head attention with grouped key/value heads.
// q: [rows][heads*head_dim] for the tokens at positions first_position + r;
// keys/values: [first_position + rows][kv_heads*head_dim] (the cache, including these tokens);
// out: [rows][heads*head_dim]. A query at position p attends to keys at
// positions max(0, p - window + 1) .. p (window: none = unlimited).
void attention(const float* q, const float* keys, const float* values, float* out, std::size_t rows,
               std::size_t first_position, std::size_t heads, std::size_t kv_heads, std::size_t head_dim,
               std::optional<std::size_t> window);

// SiLU-gated linear unit: out[r][i] = silu(gate_up[r][i]) * gate_up[r][inter + i],
// for gate_up laid out [rows][2*inter] (gate then up).
void silu_gate(const float* gate_up, float* out, std::size_t rows, std::size_t inter);

// log(sum(exp(row))) in double, stable for any finite row.
double log_sum_exp(std::span<const float> row);

}  // namespace paramdelta::eval
