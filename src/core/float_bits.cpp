#include "core/float_bits.h"

#include <array>
#include <cmath>
#include <limits>

namespace paramdelta::fp {

namespace {

// Decodes a minifloat with the given field widths. `ieee_specials`: the top
// exponent means infinity/NaN (E5M2); otherwise only all-ones is NaN (E4M3FN).
float decode_minifloat(std::uint32_t bits, int exp_bits, int man_bits, bool ieee_specials) {
  const int bias = (1 << (exp_bits - 1)) - 1;
  const std::uint32_t sign = bits >> (exp_bits + man_bits);
  const std::uint32_t exp = (bits >> man_bits) & ((1u << exp_bits) - 1);
  const std::uint32_t man = bits & ((1u << man_bits) - 1);
  const std::uint32_t exp_max = (1u << exp_bits) - 1;
  float magnitude;
  if (ieee_specials && exp == exp_max) {
    magnitude = man == 0 ? std::numeric_limits<float>::infinity() : std::numeric_limits<float>::quiet_NaN();
  } else if (!ieee_specials && exp == exp_max && man == (1u << man_bits) - 1) {
    magnitude = std::numeric_limits<float>::quiet_NaN();
  } else if (exp == 0) {
    magnitude = std::ldexp(static_cast<float>(man), 1 - bias - man_bits);
  } else {
    magnitude =
        std::ldexp(static_cast<float>(man + (1u << man_bits)), static_cast<int>(exp) - bias - man_bits);
  }
  return sign ? -magnitude : magnitude;
}

std::array<float, 256> make_table(int exp_bits, int man_bits, bool ieee_specials) {
  std::array<float, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) table[i] = decode_minifloat(i, exp_bits, man_bits, ieee_specials);
  return table;
}

const std::array<float, 256> kE4M3 = make_table(4, 3, false);
const std::array<float, 256> kE5M2 = make_table(5, 2, true);

// Exact round-to-nearest-even by searching the (monotone) table of finite
// values: 8-bit formats have at most 127 positive finite values.
std::uint8_t encode_by_table(float value, const std::array<float, 256>& table, std::uint8_t nan_bits,
                             std::uint8_t overflow_bits) {
  if (std::isnan(value)) return nan_bits;
  const bool negative = std::signbit(value);
  const float magnitude = std::fabs(value);
  // Positive finite codes are 0..max_code, increasing.
  int max_code = 0;
  while (max_code + 1 < 128 && std::isfinite(table[max_code + 1])) ++max_code;
  std::uint8_t code;
  if (magnitude > table[max_code]) {
    // Halfway point above the largest finite value (as if the grid went on).
    const float next = table[max_code] + (table[max_code] - table[max_code - 1]);
    const float halfway = (table[max_code] + next) / 2;
    code = (magnitude < halfway || (magnitude == halfway && (max_code % 2 == 0)))
               ? static_cast<std::uint8_t>(max_code)
               : overflow_bits;
  } else {
    int lo = 0;
    while (lo < max_code && table[lo + 1] <= magnitude) ++lo;
    if (table[lo] == magnitude || lo == max_code) {
      code = static_cast<std::uint8_t>(lo);
    } else {
      const double mid = (static_cast<double>(table[lo]) + table[lo + 1]) / 2;
      if (magnitude < mid)
        code = static_cast<std::uint8_t>(lo);
      else if (magnitude > mid)
        code = static_cast<std::uint8_t>(lo + 1);
      else
        code = static_cast<std::uint8_t>((lo % 2 == 0) ? lo : lo + 1);
    }
  }
  if (code == overflow_bits) return static_cast<std::uint8_t>(code | (negative ? 0x80 : 0));
  return static_cast<std::uint8_t>(code | (negative ? 0x80 : 0));
}

}  // namespace

float f8e4m3_to_f32(std::uint8_t v) { return kE4M3[v]; }
float f8e5m2_to_f32(std::uint8_t v) { return kE5M2[v]; }

std::uint8_t f32_to_f8e4m3(float value) {
  if (std::isinf(value)) return static_cast<std::uint8_t>(0x7f | (std::signbit(value) ? 0x80 : 0));
  return encode_by_table(value, kE4M3, 0x7f, 0x7f);
}

std::uint8_t f32_to_f8e5m2(float value) {
  if (std::isinf(value)) return static_cast<std::uint8_t>(0x7c | (std::signbit(value) ? 0x80 : 0));
  return encode_by_table(value, kE5M2, 0x7e, 0x7c);
}

}  // namespace paramdelta::fp
