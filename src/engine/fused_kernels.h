// Single-pass kernels for the common dtype combinations: BF16, F16 and F32 in
// any mix (computed in float32) and F64 throughout (computed in double). Each
// element is loaded, computed, rounded, stored and checked while it is in a
// register; only the rare elements that need attention (exceptions, NaN or
// infinity) leave the vectorised loop. Results are bit-identical to the
// staged kernels in delta_kernels.cpp, which handle every other combination.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "engine/delta_kernels.h"
#include "paramdelta/dtype.h"

namespace paramdelta::engine {

// compute_delta_block for the combinations above; false (and nothing
// written) for any other.
bool fused_compute(const std::byte* base, DType base_dtype, const std::byte* post, DType post_dtype,
                   std::size_t n, std::byte* out, DType out_dtype, std::uint64_t first_index,
                   ExceptionBuffer* exceptions, NonFinite& non_finite, NonFinite* overflow = nullptr);

// apply_delta_block for the combinations above: whether any result is NaN or
// infinite; nullopt (and nothing written) for any other combination.
std::optional<bool> fused_apply(const std::byte* base, DType base_dtype, const std::byte* delta,
                                DType delta_dtype, std::size_t n, double scale, std::byte* out,
                                DType out_dtype);

}  // namespace paramdelta::engine
