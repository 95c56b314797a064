#include "engine/delta_kernels.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "engine/convert.h"
#include "engine/element_codecs.h"
#include "engine/fused_kernels.h"

namespace paramdelta::engine {

namespace {

// The staged kernels below convert a step of elements into float scratch
// arrays, compute there, and convert back; they serve the dtype combinations
// that fused_kernels.h does not (8-bit floats, F64 mixed with others).
// Elements processed per inner step: small enough that the float scratch
// arrays stay in L1/L2 cache between the passes below.
constexpr std::size_t kStep = 2048;

template <typename W>
void load_wide(const std::byte* src, DType dtype, std::size_t n, W* dst) {
  if constexpr (std::is_same_v<W, float>)
    load_as_f32(src, dtype, n, dst);
  else
    load_as_f64(src, dtype, n, dst);
}

template <typename W>
void store_wide(const W* src, std::size_t n, DType dtype, std::byte* dst) {
  if constexpr (std::is_same_v<W, float>)
    store_from_f32(src, n, dtype, dst);
  else
    store_from_f64(src, n, dtype, dst);
}

template <typename W>
std::size_t first_non_finite(const W* v, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(v[i])) return i;
  }
  return n;
}

template <typename T>
bool any_mismatch_typed(const std::byte* a, const std::byte* b, std::size_t n) {
  bool any = false;
  for (std::size_t i = 0; i < n; ++i) {
    T x, y;
    std::memcpy(&x, a + i * sizeof(T), sizeof(T));
    std::memcpy(&y, b + i * sizeof(T), sizeof(T));
    any |= x != y;
  }
  return any;
}

// Exceptions are rare: a vectorisable test over the whole step first, and the
// element-by-element scan only when it finds something.
bool any_mismatch(const std::byte* a, const std::byte* b, std::size_t n, std::size_t element_size) {
  switch (element_size) {
    case 1:
      return any_mismatch_typed<std::uint8_t>(a, b, n);
    case 2:
      return any_mismatch_typed<std::uint16_t>(a, b, n);
    case 4:
      return any_mismatch_typed<std::uint32_t>(a, b, n);
    default:
      return any_mismatch_typed<std::uint64_t>(a, b, n);
  }
}

template <typename T>
void collect_typed(const std::byte* check, const std::byte* expected, const std::uint8_t* nan_pair,
                   std::size_t n, const std::byte* base, std::size_t bs, std::uint64_t first_index,
                   ExceptionBuffer& out) {
  for (std::size_t i = 0; i < n; ++i) {
    T a, b;
    std::memcpy(&a, check + i * sizeof(T), sizeof(T));
    std::memcpy(&b, expected + i * sizeof(T), sizeof(T));
    if (a == b && nan_pair[i] == 0) continue;
    out.index.push_back(first_index + i);
    out.base.insert(out.base.end(), base + i * bs, base + (i + 1) * bs);
    out.post.insert(out.post.end(), expected + i * sizeof(T), expected + (i + 1) * sizeof(T));
  }
}

// Records (index, base value, post value) for each element whose reconstruction
// differs from the post value or whose base and delta are both NaN (see
// fused_compute.cpp); the element type is fixed outside the loop.
void collect_mismatches(const std::byte* check, const std::byte* expected, const std::uint8_t* nan_pair,
                        std::size_t n, std::size_t ps, const std::byte* base, std::size_t bs,
                        std::uint64_t first_index, ExceptionBuffer& out) {
  switch (ps) {
    case 1:
      return collect_typed<std::uint8_t>(check, expected, nan_pair, n, base, bs, first_index, out);
    case 2:
      return collect_typed<std::uint16_t>(check, expected, nan_pair, n, base, bs, first_index, out);
    case 4:
      return collect_typed<std::uint32_t>(check, expected, nan_pair, n, base, bs, first_index, out);
    default:
      return collect_typed<std::uint64_t>(check, expected, nan_pair, n, base, bs, first_index, out);
  }
}

template <typename W>
bool all_finite_bits(const W* v, std::size_t n) {
  // Exponent-all-ones test on the bits: vectorises, unlike std::isfinite.
  using U = std::conditional_t<std::is_same_v<W, float>, std::uint32_t, std::uint64_t>;
  constexpr U mask = std::is_same_v<W, float> ? U(0x7f800000u) : U(0x7ff0000000000000ull);
  bool ok = true;
  for (std::size_t i = 0; i < n; ++i) ok &= (std::bit_cast<U>(v[i]) & mask) != mask;
  return ok;
}

bool uses_double(DType a, DType b, DType c) {
  return a == DType::kF64 || b == DType::kF64 || c == DType::kF64;
}

template <typename W>
void compute_impl(const std::byte* base, DType bd, const std::byte* post, DType pd, std::size_t n,
                  std::byte* out, DType od, std::uint64_t first_index, ExceptionBuffer* exceptions,
                  NonFinite& nf) {
  const std::size_t bs = dtype_size(bd), ps = dtype_size(pd), os = dtype_size(od);
  W b[kStep], p[kStep], d[kStep];
  std::byte check[kStep * 8];
  std::uint8_t nan_pair[kStep];
  for (std::size_t start = 0; start < n; start += kStep) {
    const std::size_t m = std::min(kStep, n - start);
    load_wide(base + start * bs, bd, m, b);
    load_wide(post + start * ps, pd, m, p);
    for (std::size_t i = 0; i < m; ++i) d[i] = p[i] - b[i];
    std::byte* o = out + start * os;
    store_wide(d, m, od, o);
    const bool finite = all_finite_bits(b, m) && all_finite_bits(p, m);
    if (!finite && !nf.found) {
      std::size_t ib = first_non_finite(b, m), ip = first_non_finite(p, m);
      nf.found = true;
      nf.index = start + std::min(ib, ip);
      nf.which = ib <= ip ? "base" : "post";
    }
    if (exceptions == nullptr) continue;
    // Reconstruct exactly as apply will (base + 1 * stored delta, rounded to
    // the post dtype) and keep the elements where that is not the post value.
    load_wide(o, od, m, d);
    std::uint8_t any_nan_pair = 0;
    for (std::size_t i = 0; i < m; ++i) {
      nan_pair[i] = static_cast<std::uint8_t>(std::isnan(b[i]) && std::isnan(d[i]));
      any_nan_pair |= nan_pair[i];
    }
    for (std::size_t i = 0; i < m; ++i) d[i] = b[i] + d[i];
    store_wide(d, m, pd, check);
    const std::byte* expected = post + start * ps;
    if (!any_mismatch(check, expected, m, ps) && any_nan_pair == 0) continue;
    collect_mismatches(check, expected, nan_pair, m, ps, base + start * bs, bs, first_index + start,
                       *exceptions);
  }
}

template <typename W>
void apply_impl(const std::byte* base, DType bd, const std::byte* delta, DType dd, std::size_t n, W scale,
                std::byte* out, DType od) {
  const std::size_t bs = dtype_size(bd), ds = dtype_size(dd), os = dtype_size(od);
  W b[kStep], d[kStep];
  for (std::size_t start = 0; start < n; start += kStep) {
    const std::size_t m = std::min(kStep, n - start);
    load_wide(base + start * bs, bd, m, b);
    load_wide(delta + start * ds, dd, m, d);
    for (std::size_t i = 0; i < m; ++i) b[i] = b[i] + scale * d[i];
    store_wide(b, m, od, out + start * os);
  }
}

}  // namespace

void compute_delta_block(const std::byte* base, DType base_dtype, const std::byte* post, DType post_dtype,
                         std::size_t n, std::byte* out, DType out_dtype, std::uint64_t first_index,
                         ExceptionBuffer* exceptions, NonFinite& non_finite, NonFinite* overflow) {
  if (fused_compute(base, base_dtype, post, post_dtype, n, out, out_dtype, first_index, exceptions,
                    non_finite, overflow)) {
    return;
  }
  if (uses_double(base_dtype, post_dtype, out_dtype)) {
    compute_impl<double>(base, base_dtype, post, post_dtype, n, out, out_dtype, first_index, exceptions,
                         non_finite);
  } else {
    compute_impl<float>(base, base_dtype, post, post_dtype, n, out, out_dtype, first_index, exceptions,
                        non_finite);
  }
  if (overflow != nullptr && !overflow->found) {
    *overflow = find_overflow(out, out_dtype, n, base, base_dtype, post, post_dtype, "delta");
  }
}

bool apply_delta_block(const std::byte* base, DType base_dtype, const std::byte* delta, DType delta_dtype,
                       std::size_t n, double scale, std::byte* out, DType out_dtype) {
  if (auto special = fused_apply(base, base_dtype, delta, delta_dtype, n, scale, out, out_dtype))
    return *special;
  if (uses_double(base_dtype, delta_dtype, out_dtype)) {
    apply_impl<double>(base, base_dtype, delta, delta_dtype, n, scale, out, out_dtype);
  } else {
    apply_impl<float>(base, base_dtype, delta, delta_dtype, n, static_cast<float>(scale), out, out_dtype);
  }
  return true;  // not tracked on this path
}

void convert_block(const std::byte* src, DType sd, std::size_t n, std::byte* out, DType od) {
  if (sd == od) {
    std::memcpy(out, src, n * dtype_size(sd));
    return;
  }
  if (sd == DType::kF64 || od == DType::kF64) {
    double tmp[kStep];
    for (std::size_t s = 0; s < n; s += kStep) {
      const std::size_t m = std::min(kStep, n - s);
      load_as_f64(src + s * dtype_size(sd), sd, m, tmp);
      store_from_f64(tmp, m, od, out + s * dtype_size(od));
    }
    return;
  }
  float tmp[kStep];
  for (std::size_t s = 0; s < n; s += kStep) {
    const std::size_t m = std::min(kStep, n - s);
    load_as_f32(src + s * dtype_size(sd), sd, m, tmp);
    store_from_f32(tmp, m, od, out + s * dtype_size(od));
  }
}

void accumulate_block(const std::byte* delta, DType dd, std::size_t n, float weight, float* acc) {
  float tmp[kStep];
  for (std::size_t s = 0; s < n; s += kStep) {
    const std::size_t m = std::min(kStep, n - s);
    load_as_f32(delta + s * dtype_size(dd), dd, m, tmp);
    for (std::size_t i = 0; i < m; ++i) acc[s + i] += weight * tmp[i];
  }
}

namespace {
// OR-reduces "exponent all ones" over the block first (vectorised), and only
// scans for the position when something was found.
template <typename T>
PARAMDELTA_MULTIVERSION NonFinite scan_masked(const std::byte* data, std::size_t n, T mask, T pattern,
                                              const char* which) {
  NonFinite r;
  T any = 0;  // an integer OR, which vectorises (a bool one does not)
  for (std::size_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, data + i * sizeof(T), sizeof(T));
    any |= static_cast<T>((v & mask) == pattern);
  }
  if (any == 0) return r;
  for (std::size_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, data + i * sizeof(T), sizeof(T));
    if ((v & mask) == pattern) {
      r.found = true;
      r.index = i;
      r.which = which;
      return r;
    }
  }
  return r;
}
}  // namespace

NonFinite find_non_finite(const std::byte* data, DType dtype, std::size_t n, const char* which) {
  switch (dtype) {
    case DType::kBF16:
      return scan_masked<std::uint16_t>(data, n, 0x7f80u, 0x7f80u, which);
    case DType::kF16:
      return scan_masked<std::uint16_t>(data, n, 0x7c00u, 0x7c00u, which);
    case DType::kF32:
      return scan_masked<std::uint32_t>(data, n, 0x7f800000u, 0x7f800000u, which);
    case DType::kF64:
      return scan_masked<std::uint64_t>(data, n, 0x7ff0000000000000ull, 0x7ff0000000000000ull, which);
    // E4M3FN has no infinity; its only NaN is the all-ones pattern.
    case DType::kF8E4M3:
      return scan_masked<std::uint8_t>(data, n, 0x7fu, 0x7fu, which);
    case DType::kF8E5M2:
      return scan_masked<std::uint8_t>(data, n, 0x7cu, 0x7cu, which);
    default:
      return {};
  }
}

NonFinite find_overflow(const std::byte* result, DType result_dtype, std::size_t n, const std::byte* a,
                        DType a_dtype, const std::byte* b, DType b_dtype, const char* which) {
  const std::size_t rs = dtype_size(result_dtype), as = dtype_size(a_dtype);
  const std::size_t bs = b != nullptr ? dtype_size(b_dtype) : 0;
  // Non-finite results are rare (none at all in most blocks): a vectorised
  // scan for the next one, then a look at its inputs.
  for (std::size_t i = 0; i < n;) {
    const NonFinite r = find_non_finite(result + i * rs, result_dtype, n - i, which);
    if (!r.found) break;
    const std::size_t at = i + r.index;
    const bool inputs_finite = !find_non_finite(a + at * as, a_dtype, 1, "").found &&
                               (b == nullptr || !find_non_finite(b + at * bs, b_dtype, 1, "").found);
    if (inputs_finite) return NonFinite{true, at, which};
    i = at + 1;
  }
  return {};
}

}  // namespace paramdelta::engine
