// Element types of the safetensors format and conversions between them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace paramdelta {

enum class DType : std::uint8_t {
  kBool,
  kU8,
  kI8,
  kU16,
  kI16,
  kU32,
  kI32,
  kU64,
  kI64,
  kF8E4M3,  // "F8_E4M3": OCP E4M3FN (no infinities, one NaN pattern per sign)
  kF8E5M2,  // "F8_E5M2": IEEE-like, with infinities
  kF16,
  kBF16,
  kF32,
  kF64,
};

// Parses a safetensors dtype string ("BF16", "F8_E4M3", ...). nullopt if unknown.
std::optional<DType> parse_dtype(std::string_view name);
std::string_view dtype_name(DType dtype);
std::size_t dtype_size(DType dtype);
bool is_floating(DType dtype);
// The engine computes deltas on these; other floating types are read and widened.
bool is_native_compute_type(DType dtype);  // F16, BF16, F32

}  // namespace paramdelta
