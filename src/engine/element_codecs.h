// Compile-time descriptions of the float element types the fused kernels
// handle: how one stored element is loaded, widened to the compute type,
// rounded back and tested for NaN/infinity. Everything is branch-free integer
// and float code on one element, so that a loop over elements vectorises; the
// roundings are the ones of core/float_bits.h, bit for bit.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/float_bits.h"
#include "engine/multiversion.h"
#include "paramdelta/dtype.h"

namespace paramdelta::engine::codec {

template <typename T>
inline T load(const std::byte* p, std::size_t i) {
  T v;
  std::memcpy(&v, p + i * sizeof(T), sizeof(T));
  return v;
}

template <typename T>
inline void store(std::byte* p, std::size_t i, T v) {
  std::memcpy(p + i * sizeof(T), &v, sizeof(T));
}

struct BF16 {
  using Bits = std::uint16_t;
  using Wide = float;
  static constexpr DType kDType = DType::kBF16;
  static float widen(Bits b) { return fp::bf16_to_f32(b); }
  static Bits narrow(float v) { return fp::f32_to_bf16(v); }
  // 1 if the element is NaN or infinite (exponent all ones), else 0.
  static Bits special(Bits b) { return static_cast<Bits>((b & 0x7f80u) == 0x7f80u); }
  // kTop is set in marker(b) exactly when b is NaN or infinite: the exponent
  // plus one carries out of the exponent field only when it is all ones. ORed
  // over a block, it answers "any special?" in a few narrow vector operations.
  static constexpr Bits kTop = 0x8000u;
  static Bits marker(Bits b) { return static_cast<Bits>((b & 0x7f80u) + 0x0080u); }
};

struct F16 {
  using Bits = std::uint16_t;
  using Wide = float;
  static constexpr DType kDType = DType::kF16;
  static float widen(Bits b) { return fp::f16_to_f32(b); }
  // fp::f32_to_f16 with its three cases computed unconditionally and chosen by
  // selects: the compiler will not speculate the float add of a branch (it
  // could raise a floating-point flag), so the branchy form stays scalar.
  // Same bits for every input (tested exhaustively).
  static Bits narrow(float v) {
    const std::uint32_t bits = std::bit_cast<std::uint32_t>(v);
    const std::uint32_t sign = (bits >> 16) & 0x8000u;
    const std::uint32_t magnitude = bits & 0x7fffffffu;
    const std::uint32_t huge = magnitude > 0x7f800000u ? (0x7e00u | ((magnitude >> 13) & 0x3ffu)) : 0x7c00u;
    const float aligned = std::bit_cast<float>(magnitude) + 0.5f;
    const std::uint32_t tiny = std::bit_cast<std::uint32_t>(aligned) - 0x3f000000u;
    const std::uint32_t normal = (magnitude + 0xc8000fffu + ((magnitude >> 13) & 1u)) >> 13;
    // Masks rather than ?: so that no branch is left for the add to sink into.
    const std::uint32_t is_huge = 0u - static_cast<std::uint32_t>(magnitude >= 0x47800000u);
    const std::uint32_t is_tiny = 0u - static_cast<std::uint32_t>(magnitude < 0x38800000u);
    const std::uint32_t result = (huge & is_huge) | (tiny & is_tiny) | (normal & ~(is_huge | is_tiny));
    return static_cast<Bits>(result | sign);
  }
  static Bits special(Bits b) { return static_cast<Bits>((b & 0x7c00u) == 0x7c00u); }
  static constexpr Bits kTop = 0x8000u;
  static Bits marker(Bits b) { return static_cast<Bits>((b & 0x7c00u) + 0x0400u); }
};

struct F32 {
  using Bits = std::uint32_t;
  using Wide = float;
  static constexpr DType kDType = DType::kF32;
  static float widen(Bits b) { return std::bit_cast<float>(b); }
  static Bits narrow(float v) { return std::bit_cast<Bits>(v); }
  static Bits special(Bits b) { return static_cast<Bits>((b & 0x7f800000u) == 0x7f800000u); }
  static constexpr Bits kTop = 0x80000000u;
  static Bits marker(Bits b) { return (b & 0x7f800000u) + 0x00800000u; }
};

struct F64 {
  using Bits = std::uint64_t;
  using Wide = double;
  static constexpr DType kDType = DType::kF64;
  static double widen(Bits b) { return std::bit_cast<double>(b); }
  static Bits narrow(double v) { return std::bit_cast<Bits>(v); }
  static Bits special(Bits b) {
    return static_cast<Bits>((b & 0x7ff0000000000000ull) == 0x7ff0000000000000ull);
  }
  static constexpr Bits kTop = 0x8000000000000000ull;
  static Bits marker(Bits b) { return (b & 0x7ff0000000000000ull) + 0x0010000000000000ull; }
};

// NaN test on the compute type, as an integer 0/1 (vectorises; std::isnan
// in a loop may not).
inline std::uint32_t is_nan(float v) { return (std::bit_cast<std::uint32_t>(v) & 0x7fffffffu) > 0x7f800000u; }
inline std::uint64_t is_nan(double v) {
  return (std::bit_cast<std::uint64_t>(v) & 0x7fffffffffffffffull) > 0x7ff0000000000000ull;
}

// Calls f(codec) with the codec of a dtype that is computed in float32 (BF16,
// F16, F32); false if `dtype` is none of these.
template <typename F>
bool with_float32_codec(DType dtype, F&& f) {
  switch (dtype) {
    case DType::kBF16:
      f(BF16{});
      return true;
    case DType::kF16:
      f(F16{});
      return true;
    case DType::kF32:
      f(F32{});
      return true;
    default:
      return false;
  }
}

}  // namespace paramdelta::engine::codec
