#include "eval/kernels.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace paramdelta::eval {

namespace {
blasint as_blas(std::size_t v) { return static_cast<blasint>(v); }
}  // namespace

void matmul_bt(const float* a, std::size_t lda, const float* b, std::size_t ldb, float* out, std::size_t ldc,
               std::size_t m, std::size_t n, std::size_t k, bool accumulate) {
  if (m == 0 || n == 0) return;
  const float beta = accumulate ? 1.0f : 0.0f;
  if (m == 1) {
    // One row (a generation step): a matrix-vector product streams the weight once.
    cblas_sgemv(CblasRowMajor, CblasNoTrans, as_blas(n), as_blas(k), 1.0f, b, as_blas(ldb), a, 1, beta, out,
                1);
    return;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, as_blas(m), as_blas(n), as_blas(k), 1.0f, a,
              as_blas(lda), b, as_blas(ldb), beta, out, as_blas(ldc));
}

void matmul(const float* a, std::size_t lda, const float* b, std::size_t ldb, float* out, std::size_t ldc,
            std::size_t m, std::size_t n, std::size_t k) {
  if (m == 0 || n == 0) return;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, as_blas(m), as_blas(n), as_blas(k), 1.0f, a,
              as_blas(lda), b, as_blas(ldb), 0.0f, out, as_blas(ldc));
}

void rms_norm(const float* x, const float* weight, float* out, std::size_t rows, std::size_t dim,
              double eps) {
  for (std::size_t r = 0; r < rows; ++r) {
    const float* row = x + r * dim;
    double sum_squares = 0;
    for (std::size_t i = 0; i < dim; ++i) sum_squares += static_cast<double>(row[i]) * row[i];
    const float scale = static_cast<float>(1.0 / std::sqrt(sum_squares / static_cast<double>(dim) + eps));
    float* dst = out + r * dim;
    for (std::size_t i = 0; i < dim; ++i) dst[i] = row[i] * scale * weight[i];
  }
}

RopeTable rope_table(std::span<const double> inv_freq, std::span<const std::size_t> positions) {
  RopeTable table;
  table.pairs = inv_freq.size();
  table.cos.resize(positions.size() * table.pairs);
  table.sin.resize(positions.size() * table.pairs);
  for (std::size_t r = 0; r < positions.size(); ++r) {
    const double position = static_cast<double>(positions[r]);
    for (std::size_t i = 0; i < table.pairs; ++i) {
      const double angle = position * inv_freq[i];
      table.cos[r * table.pairs + i] = static_cast<float>(std::cos(angle));
      table.sin[r * table.pairs + i] = static_cast<float>(std::sin(angle));
    }
  }
  return table;
}

void apply_rope(float* x, std::size_t rows, std::size_t row_stride, std::size_t heads, std::size_t head_dim,
                const RopeTable& table) {
  const std::size_t half = head_dim / 2;
  for (std::size_t r = 0; r < rows; ++r) {
    const float* cos = table.cos.data() + r * table.pairs;
    const float* sin = table.sin.data() + r * table.pairs;
    for (std::size_t h = 0; h < heads; ++h) {
      float* head = x + r * row_stride + h * head_dim;
      for (std::size_t i = 0; i < half; ++i) {
        const float x1 = head[i];
        const float x2 = head[i + half];
        head[i] = x1 * cos[i] - x2 * sin[i];
        head[i + half] = x2 * cos[i] + x1 * sin[i];
      }
    }
  }
}

void attention(const float* q, const float* keys, const float* values, float* out, std::size_t rows,
               std::size_t first_position, std::size_t heads, std::size_t kv_heads, std::size_t head_dim,
               std::optional<std::size_t> window) {
  const std::size_t q_stride = heads * head_dim;
  const std::size_t kv_stride = kv_heads * head_dim;
  const std::size_t group = heads / kv_heads;
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(head_dim)));
  // Queries are processed in blocks so that the score matrix stays small even
  // for long windows; each block's scores and weighted sums are BLAS products.
  constexpr std::size_t kBlock = 128;
  auto first_key = [&](std::size_t position) -> std::size_t {
    if (!window || position + 1 <= *window) return 0;
    return position + 1 - *window;
  };
  std::vector<float> scores;
  for (std::size_t t0 = 0; t0 < rows; t0 += kBlock) {
    const std::size_t t1 = std::min(rows, t0 + kBlock);
    const std::size_t block = t1 - t0;
    const std::size_t key_begin = first_key(first_position + t0);
    const std::size_t key_end = first_position + t1;  // exclusive
    const std::size_t span = key_end - key_begin;
    scores.resize(block * span);
    for (std::size_t h = 0; h < heads; ++h) {
      const std::size_t g = h / group;
      const float* q_head = q + t0 * q_stride + h * head_dim;
      const float* k_head = keys + key_begin * kv_stride + g * head_dim;
      const float* v_head = values + key_begin * kv_stride + g * head_dim;
      matmul_bt(q_head, q_stride, k_head, kv_stride, scores.data(), span, block, span, head_dim);
      for (std::size_t t = 0; t < block; ++t) {
        const std::size_t position = first_position + t0 + t;
        const std::size_t lo = first_key(position) - key_begin;
        const std::size_t hi = position + 1 - key_begin;  // exclusive
        float* row = scores.data() + t * span;
        float max_score = -std::numeric_limits<float>::infinity();
        for (std::size_t j = lo; j < hi; ++j) max_score = std::max(max_score, row[j] * scale);
        double total = 0;
        for (std::size_t j = 0; j < span; ++j) {
          if (j < lo || j >= hi) {
            row[j] = 0.0f;  // masked: outside the causal (and sliding) window
            continue;
          }
          row[j] = std::exp(row[j] * scale - max_score);
          total += row[j];
        }
        const float inverse = static_cast<float>(1.0 / total);
        for (std::size_t j = lo; j < hi; ++j) row[j] *= inverse;
      }
      matmul(scores.data(), span, v_head, kv_stride, out + t0 * q_stride + h * head_dim, q_stride, block,
             head_dim, span);
    }
  }
}

void silu_gate(const float* gate_up, float* out, std::size_t rows, std::size_t inter) {
  for (std::size_t r = 0; r < rows; ++r) {
    const float* gate = gate_up + r * 2 * inter;
    const float* up = gate + inter;
    float* dst = out + r * inter;
    for (std::size_t i = 0; i < inter; ++i) {
      const float g = gate[i];
      dst[i] = g / (1.0f + std::exp(-g)) * up[i];
    }
  }
}

double log_sum_exp(std::span<const float> row) {
  if (row.empty()) return -std::numeric_limits<double>::infinity();
  float max_value = row[0];
  for (float v : row) max_value = std::max(max_value, v);
  double total = 0;
  for (float v : row) total += std::exp(static_cast<double>(v) - max_value);
  return max_value + std::log(total);
}

}  // namespace paramdelta::eval
