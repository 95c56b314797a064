// Bit-exact conversions between float32 and the 16- and 8-bit float formats.
// Written branch-free where it matters so that the compiler vectorises the
// loops that call them; all roundings are round-to-nearest-even.
#pragma once

#include <bit>
#include <cstdint>

namespace paramdelta::fp {

inline float bf16_to_f32(std::uint16_t h) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(h) << 16);
}

inline std::uint16_t f32_to_bf16(float value) {
  std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
  std::uint32_t rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
  // NaN must stay NaN (rounding could carry it into infinity): keep the top
  // mantissa bits and force the quiet bit.
  std::uint32_t nan = (bits >> 16) | 0x0040u;
  bool is_nan = (bits & 0x7fffffffu) > 0x7f800000u;
  return static_cast<std::uint16_t>(is_nan ? nan : rounded);
}

inline float f16_to_f32(std::uint16_t h) {
  std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  std::uint32_t magnitude = static_cast<std::uint32_t>(h & 0x7fffu) << 13;
  // Reinterpreting the shifted bits as float32 and scaling by 2^112 rebiases the
  // exponent (15 -> 127) and turns half subnormals into exact float32 normals.
  float scaled = std::bit_cast<float>(magnitude) * 0x1p112f;
  std::uint32_t bits = std::bit_cast<std::uint32_t>(scaled);
  // Half infinities and NaNs land at >= 2^16 after scaling: give them float32's all-ones exponent.
  bits |= (scaled >= 65536.0f) ? 0x7f800000u : 0u;
  return std::bit_cast<float>(bits | sign);
}

inline std::uint16_t f32_to_f16(float value) {
  std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
  std::uint32_t sign = (bits >> 16) & 0x8000u;
  std::uint32_t magnitude = bits & 0x7fffffffu;
  std::uint32_t result;
  if (magnitude >= 0x47800000u) {  // >= 2^16: infinity, NaN, or overflow to infinity
    result = magnitude > 0x7f800000u ? (0x7e00u | ((magnitude >> 13) & 0x3ffu)) : 0x7c00u;
  } else if (magnitude < 0x38800000u) {  // below half's smallest normal, 2^-14
    // Adding 0.5 aligns the value so that the float adder performs the
    // round-to-nearest-even into half's subnormal grid for us.
    float aligned = std::bit_cast<float>(magnitude) + 0.5f;
    result = std::bit_cast<std::uint32_t>(aligned) - 0x3f000000u;
  } else {
    std::uint32_t odd = (magnitude >> 13) & 1u;
    magnitude += 0xc8000fffu;  // rebias exponent (127 -> 15) and add the rounding bias
    magnitude += odd;
    result = magnitude >> 13;  // a mantissa carry correctly rounds up to the next binade or to infinity
  }
  return static_cast<std::uint16_t>(result | sign);
}

// 8-bit floats are rare and small: decoded through tables, encoded by a generic
// exact rounding routine.
float f8e4m3_to_f32(std::uint8_t v);
float f8e5m2_to_f32(std::uint8_t v);
std::uint8_t f32_to_f8e4m3(float value);  // out of range -> NaN (E4M3FN has no infinity)
std::uint8_t f32_to_f8e5m2(float value);

inline bool f32_is_finite(float value) {
  return (std::bit_cast<std::uint32_t>(value) & 0x7f800000u) != 0x7f800000u;
}

}  // namespace paramdelta::fp
