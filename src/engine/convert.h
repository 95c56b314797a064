// Widening loads and narrowing stores between stored element types and the
// compute types (float for 8/16/32-bit floats, double for F64). The 16-bit
// paths are plain loops over the branch-free helpers of core/float_bits.h so
// that the compiler vectorises them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/float_bits.h"
#include "paramdelta/dtype.h"

namespace paramdelta::engine {

void load_as_f32(const std::byte* src, DType dtype, std::size_t n, float* dst);
void store_from_f32(const float* src, std::size_t n, DType dtype, std::byte* dst);
void load_as_f64(const std::byte* src, DType dtype, std::size_t n, double* dst);
void store_from_f64(const double* src, std::size_t n, DType dtype, std::byte* dst);

// Bit pattern of element i as an unsigned integer (for exact comparisons).
inline std::uint64_t element_bits(const std::byte* src, DType dtype, std::size_t i) {
  std::uint64_t v = 0;
  std::memcpy(&v, src + i * dtype_size(dtype), dtype_size(dtype));  // little-endian host
  return v;
}

// Converts one value to `dtype` and returns its bit pattern.
std::uint64_t f64_to_bits(double value, DType dtype);
double bits_to_f64(std::uint64_t bits, DType dtype);

// True if the stored element (of a floating dtype) is NaN or infinite.
bool element_is_finite(std::uint64_t bits, DType dtype);

}  // namespace paramdelta::engine
