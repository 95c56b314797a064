#include "eval/invariant_matmul.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>

#include "engine/thread_pool.h"
#include "paramdelta/model.h"

namespace paramdelta::eval {

namespace {

// Eight floats; GCC lowers the arithmetic to whatever vector width the
// function is compiled for (two SSE registers, or one AVX register).
using Lanes = float __attribute__((vector_size(32)));
constexpr std::size_t kLanes = 8;

// Vectors go by reference: passing 32-byte vectors by value has an ABI that
// differs between the SSE and AVX clones (GCC's -Wpsabi).
inline __attribute__((always_inline)) void load_lanes(Lanes& v, const float* p) {
  std::memcpy(&v, p, sizeof v);
}

// The fixed combination of the eight partial sums.
inline __attribute__((always_inline)) float sum_lanes(const Lanes& v) {
  return ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]));
}

// R rows of a against C rows of b. The blocking only decides which products
// share loads; each element's additions are the same for every R and C.
template <std::size_t R, std::size_t C>
inline __attribute__((always_inline)) void block(const float* a, std::size_t lda, const float* b,
                                                 std::size_t ldb, float* out, std::size_t ldc, std::size_t k,
                                                 bool accumulate) {
  Lanes acc[R][C] = {};
  const std::size_t whole = k - k % kLanes;
  for (std::size_t i = 0; i < whole; i += kLanes) {
    Lanes rows[R];
    for (std::size_t r = 0; r < R; ++r) load_lanes(rows[r], a + r * lda + i);
    for (std::size_t c = 0; c < C; ++c) {
      Lanes column;
      load_lanes(column, b + c * ldb + i);
      for (std::size_t r = 0; r < R; ++r) acc[r][c] += rows[r] * column;
    }
  }
  for (std::size_t r = 0; r < R; ++r) {
    for (std::size_t c = 0; c < C; ++c) {
      float tail = 0.0f;
      for (std::size_t i = whole; i < k; ++i) tail += a[r * lda + i] * b[c * ldb + i];
      const float sum = sum_lanes(acc[r][c]) + tail;
      float& dst = out[r * ldc + c];
      dst = accumulate ? dst + sum : sum;
    }
  }
}

// Every row against C rows of b from column c: rows in pairs, then the odd one.
template <std::size_t C>
inline __attribute__((always_inline)) void all_rows(const float* a, std::size_t lda, const float* b,
                                                    std::size_t ldb, float* out, std::size_t ldc,
                                                    std::size_t m, std::size_t c, std::size_t k,
                                                    bool accumulate) {
  std::size_t r = 0;
  for (; r + 2 <= m; r += 2)
    block<2, C>(a + r * lda, lda, b + c * ldb, ldb, out + r * ldc + c, ldc, k, accumulate);
  if (r < m) block<1, C>(a + r * lda, lda, b + c * ldb, ldb, out + r * ldc + c, ldc, k, accumulate);
}

// Output columns [n0, n1) for every row, in blocks of two rows by four
// columns (eight independent sums in flight). The clones let AVX2 machines
// use 256-bit registers; without fused multiply-adds both clones produce
// identical bits. (Everything they call is always_inline, so it is compiled
// for the clone's target.)
__attribute__((target_clones("avx2", "default"))) void columns(const float* a, std::size_t lda,
                                                               const float* b, std::size_t ldb, float* out,
                                                               std::size_t ldc, std::size_t m, std::size_t n0,
                                                               std::size_t n1, std::size_t k,
                                                               bool accumulate) {
  std::size_t c = n0;
  for (; c + 4 <= n1; c += 4) all_rows<4>(a, lda, b, ldb, out, ldc, m, c, k, accumulate);
  for (; c < n1; ++c) all_rows<1>(a, lda, b, ldb, out, ldc, m, c, k, accumulate);
}

// Products smaller than this many multiply-adds run on the calling thread:
// waking the pool would cost more than it saves.
constexpr std::size_t kParallelWork = std::size_t{1} << 20;
// Output columns per parallel task (a multiple of the four-column blocks).
constexpr std::size_t kColumnsPerTask = 64;

// One pool for the process, rebuilt when the compute thread count changes.
// Concurrent callers (a library user evaluating two models on two threads)
// do not share it: whoever finds it busy computes alone.
struct Pool {
  std::mutex mutex;
  std::unique_ptr<engine::ThreadPool> threads;
};
Pool& pool() {
  static Pool instance;
  return instance;
}

}  // namespace

void matmul_bt_invariant(const float* a, std::size_t lda, const float* b, std::size_t ldb, float* out,
                         std::size_t ldc, std::size_t m, std::size_t n, std::size_t k, bool accumulate) {
  if (m == 0 || n == 0) return;
  const int wanted = std::max(1, compute_threads());
  const std::size_t tasks = (n + kColumnsPerTask - 1) / kColumnsPerTask;
  if (wanted > 1 && tasks > 1 && m * n * k >= kParallelWork) {
    Pool& shared = pool();
    std::unique_lock lock(shared.mutex, std::try_to_lock);
    if (lock.owns_lock()) {
      if (!shared.threads || shared.threads->size() != wanted)
        shared.threads = std::make_unique<engine::ThreadPool>(wanted);
      shared.threads->parallel_for(tasks, [&](std::size_t task, int) {
        const std::size_t n0 = task * kColumnsPerTask;
        columns(a, lda, b, ldb, out, ldc, m, n0, std::min(n, n0 + kColumnsPerTask), k, accumulate);
      });
      return;
    }
  }
  columns(a, lda, b, ldb, out, ldc, m, 0, n, k, accumulate);
}

}  // namespace paramdelta::eval
