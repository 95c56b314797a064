// The element-wise arithmetic of ParamΔ on blocks of stored elements.
// 8/16/32-bit floats are computed in float32 (as the format promises: "math
// in fp32, round-to-nearest-even on output"), F64 in double.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "paramdelta/dtype.h"

namespace paramdelta::engine {

// Elements of a delta that its dtype cannot carry exactly, as found by compute.
struct ExceptionBuffer {
  std::vector<std::uint64_t> index;
  std::vector<std::byte> base;  // element bytes in the base dtype
  std::vector<std::byte> post;  // element bytes in the post dtype
  void clear() {
    index.clear();
    base.clear();
    post.clear();
  }
};

// First non-finite element found, if any (index relative to the block).
struct NonFinite {
  bool found = false;
  std::size_t index = 0;
  const char* which = "";  // "base", "post", "delta", "result"
};

// delta = post - base, stored as `out_dtype`. When `exceptions` is given, each
// element where round(base + delta) != post (bit for bit, in the post dtype)
// is recorded with its global index (first_index + i), so that apply can
// reproduce the post model exactly. Non-finite inputs are reported in
// `non_finite` (and, when `exceptions` is given, recorded as exceptions).
// When `overflow` is given, the first element whose delta is NaN or infinite
// although its base and post are finite (beyond the range of `out_dtype`) is
// reported there (index relative to the block).
void compute_delta_block(const std::byte* base, DType base_dtype, const std::byte* post, DType post_dtype,
                         std::size_t n, std::byte* out, DType out_dtype, std::uint64_t first_index,
                         ExceptionBuffer* exceptions, NonFinite& non_finite, NonFinite* overflow = nullptr);

// out = base + scale * delta, rounded to out_dtype: in float32 with the scale
// rounded to float, or (when a dtype is F64) in double with the scale as given.
// Returns false when no result is NaN or infinite (true when one may be: the
// caller then scans for it, after the exceptions are patched in).
bool apply_delta_block(const std::byte* base, DType base_dtype, const std::byte* delta, DType delta_dtype,
                       std::size_t n, double scale, std::byte* out, DType out_dtype);

// out = convert(src) (a plain dtype conversion, exact when widening).
void convert_block(const std::byte* src, DType src_dtype, std::size_t n, std::byte* out, DType out_dtype);

// acc += weight * delta (float accumulation).
void accumulate_block(const std::byte* delta, DType delta_dtype, std::size_t n, float weight, float* acc);

// First non-finite element of a block of stored floats.
NonFinite find_non_finite(const std::byte* data, DType dtype, std::size_t n, const char* which);

// First element of a block of results that is NaN or infinite although the
// elements it was made from (`a`, and `b` when not null, n elements each) are
// finite: a result beyond the range of its dtype. `which` names the result.
NonFinite find_overflow(const std::byte* result, DType result_dtype, std::size_t n, const std::byte* a,
                        DType a_dtype, const std::byte* b, DType b_dtype, const char* which);

}  // namespace paramdelta::engine
