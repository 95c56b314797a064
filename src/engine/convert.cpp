#include "engine/convert.h"

#include <cmath>

namespace paramdelta::engine {

namespace {
template <typename T>
T load(const std::byte* p, std::size_t i) {
  T v;
  std::memcpy(&v, p + i * sizeof(T), sizeof(T));
  return v;
}
template <typename T>
void put(std::byte* p, std::size_t i, T v) {
  std::memcpy(p + i * sizeof(T), &v, sizeof(T));
}
// The common dtypes get loops of their own, which the compiler vectorises;
// false for the others.
template <typename Wide>
bool widen_common(const std::byte* src, DType dtype, std::size_t n, Wide* dst) {
  switch (dtype) {
    case DType::kBF16:
      for (std::size_t i = 0; i < n; ++i) dst[i] = fp::bf16_to_f32(load<std::uint16_t>(src, i));
      return true;
    case DType::kF16:
      for (std::size_t i = 0; i < n; ++i) dst[i] = fp::f16_to_f32(load<std::uint16_t>(src, i));
      return true;
    case DType::kF32:
      for (std::size_t i = 0; i < n; ++i) dst[i] = load<float>(src, i);
      return true;
    case DType::kF64:
      for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<Wide>(load<double>(src, i));
      return true;
    default:
      return false;
  }
}

float round_to_odd_float(double value) {
  float f = static_cast<float>(value);
  if (!std::isfinite(f) || static_cast<double>(f) == value) return f;
  if (std::fabs(static_cast<double>(f)) > std::fabs(value)) f = std::nextafter(f, 0.0f);
  return std::bit_cast<float>(std::bit_cast<std::uint32_t>(f) | 1u);
}
}  // namespace

void load_as_f32(const std::byte* src, DType dtype, std::size_t n, float* dst) {
  if (widen_common(src, dtype, n, dst)) return;
  switch (dtype) {
    case DType::kF8E4M3:
      for (std::size_t i = 0; i < n; ++i) dst[i] = fp::f8e4m3_to_f32(load<std::uint8_t>(src, i));
      return;
    case DType::kF8E5M2:
      for (std::size_t i = 0; i < n; ++i) dst[i] = fp::f8e5m2_to_f32(load<std::uint8_t>(src, i));
      return;
    default:
      for (std::size_t i = 0; i < n; ++i)
        dst[i] = static_cast<float>(bits_to_f64(element_bits(src, dtype, i), dtype));
      return;
  }
}

void store_from_f32(const float* src, std::size_t n, DType dtype, std::byte* dst) {
  switch (dtype) {
    case DType::kBF16:
      for (std::size_t i = 0; i < n; ++i) put<std::uint16_t>(dst, i, fp::f32_to_bf16(src[i]));
      return;
    case DType::kF16:
      for (std::size_t i = 0; i < n; ++i) put<std::uint16_t>(dst, i, fp::f32_to_f16(src[i]));
      return;
    case DType::kF32:
      std::memcpy(dst, src, n * sizeof(float));
      return;
    case DType::kF64:
      for (std::size_t i = 0; i < n; ++i) put<double>(dst, i, static_cast<double>(src[i]));
      return;
    case DType::kF8E4M3:
      for (std::size_t i = 0; i < n; ++i) put<std::uint8_t>(dst, i, fp::f32_to_f8e4m3(src[i]));
      return;
    case DType::kF8E5M2:
      for (std::size_t i = 0; i < n; ++i) put<std::uint8_t>(dst, i, fp::f32_to_f8e5m2(src[i]));
      return;
    default:
      for (std::size_t i = 0; i < n; ++i) {
        std::uint64_t bits = f64_to_bits(src[i], dtype);
        std::memcpy(dst + i * dtype_size(dtype), &bits, dtype_size(dtype));
      }
      return;
  }
}

void load_as_f64(const std::byte* src, DType dtype, std::size_t n, double* dst) {
  if (widen_common(src, dtype, n, dst)) return;
  for (std::size_t i = 0; i < n; ++i) dst[i] = bits_to_f64(element_bits(src, dtype, i), dtype);
}

void store_from_f64(const double* src, std::size_t n, DType dtype, std::byte* dst) {
  switch (dtype) {
    case DType::kF32:
      for (std::size_t i = 0; i < n; ++i) put<float>(dst, i, static_cast<float>(src[i]));
      return;
    case DType::kF64:
      std::memcpy(dst, src, n * sizeof(double));
      return;
    default: {
      const std::size_t size = dtype_size(dtype);
      for (std::size_t i = 0; i < n; ++i) {
        const std::uint64_t bits = f64_to_bits(src[i], dtype);
        std::memcpy(dst + i * size, &bits, size);
      }
      return;
    }
  }
}

double bits_to_f64(std::uint64_t bits, DType dtype) {
  switch (dtype) {
    case DType::kBF16:
      return fp::bf16_to_f32(static_cast<std::uint16_t>(bits));
    case DType::kF16:
      return fp::f16_to_f32(static_cast<std::uint16_t>(bits));
    case DType::kF32:
      return std::bit_cast<float>(static_cast<std::uint32_t>(bits));
    case DType::kF64:
      return std::bit_cast<double>(bits);
    case DType::kF8E4M3:
      return fp::f8e4m3_to_f32(static_cast<std::uint8_t>(bits));
    case DType::kF8E5M2:
      return fp::f8e5m2_to_f32(static_cast<std::uint8_t>(bits));
    case DType::kBool:
    case DType::kU8:
      return static_cast<double>(static_cast<std::uint8_t>(bits));
    case DType::kI8:
      return static_cast<double>(static_cast<std::int8_t>(bits));
    case DType::kU16:
      return static_cast<double>(static_cast<std::uint16_t>(bits));
    case DType::kI16:
      return static_cast<double>(static_cast<std::int16_t>(bits));
    case DType::kU32:
      return static_cast<double>(static_cast<std::uint32_t>(bits));
    case DType::kI32:
      return static_cast<double>(static_cast<std::int32_t>(bits));
    case DType::kU64:
      return static_cast<double>(bits);
    case DType::kI64:
      return static_cast<double>(static_cast<std::int64_t>(bits));
  }
  return 0;
}

std::uint64_t f64_to_bits(double value, DType dtype) {
  switch (dtype) {
    case DType::kF64:
      return std::bit_cast<std::uint64_t>(value);
    case DType::kF32:
      return std::bit_cast<std::uint32_t>(static_cast<float>(value));
    // Narrowing double -> float -> 16 bits through round-to-odd makes the two
    // steps equal to one correct rounding (float keeps more than two extra bits).
    case DType::kBF16:
      return fp::f32_to_bf16(round_to_odd_float(value));
    case DType::kF16:
      return fp::f32_to_f16(round_to_odd_float(value));
    case DType::kF8E4M3:
      return fp::f32_to_f8e4m3(static_cast<float>(value));
    case DType::kF8E5M2:
      return fp::f32_to_f8e5m2(static_cast<float>(value));
    default:
      return static_cast<std::uint64_t>(static_cast<std::int64_t>(std::llround(value)));
  }
}

bool element_is_finite(std::uint64_t bits, DType dtype) { return std::isfinite(bits_to_f64(bits, dtype)); }

}  // namespace paramdelta::engine
