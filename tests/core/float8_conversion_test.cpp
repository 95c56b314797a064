// FP8 (OCP E4M3FN and E5M2) decoding and encoding against the format
// definitions, with a brute-force nearest-value encoder as the oracle.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "core/float_bits.h"

namespace paramdelta::fp {
namespace {

struct Format {
  int exp_bits;
  int man_bits;
  bool ieee_specials;  // E5M2: top exponent is inf/NaN; E4M3FN: only S.1111.111 is NaN
};
constexpr Format kE4M3{4, 3, false};
constexpr Format kE5M2{5, 2, true};

double reference_decode(std::uint32_t code, Format f) {
  const std::uint32_t sign = code >> 7;
  const std::uint32_t exp = (code >> f.man_bits) & ((1u << f.exp_bits) - 1);
  const std::uint32_t man = code & ((1u << f.man_bits) - 1);
  const std::uint32_t top = (1u << f.exp_bits) - 1;
  const int bias = (1 << (f.exp_bits - 1)) - 1;
  double m;
  if (f.ieee_specials && exp == top) {
    m = man == 0 ? INFINITY : NAN;
  } else if (!f.ieee_specials && exp == top && man == (1u << f.man_bits) - 1) {
    m = NAN;
  } else if (exp == 0) {
    m = std::ldexp(static_cast<double>(man), 1 - bias - f.man_bits);
  } else {
    m = std::ldexp(static_cast<double>(man | (1u << f.man_bits)), static_cast<int>(exp) - bias - f.man_bits);
  }
  return sign ? -m : m;
}

// Nearest finite code (ties to the even code), or "overflow" when the value is
// nearer to the value one step past the largest finite one.
struct Rounded {
  bool overflow = false;
  std::uint32_t code = 0;  // magnitude code, without sign
};
Rounded reference_round(double magnitude, Format f) {
  std::vector<double> grid;
  for (std::uint32_t c = 0; c < 128; ++c) {
    const double v = reference_decode(c, f);
    if (!std::isfinite(v)) break;
    grid.push_back(v);
  }
  grid.push_back(grid.back() + (grid.back() - grid[grid.size() - 2]));  // virtual next value
  std::uint32_t best = 0;
  for (std::uint32_t c = 1; c < grid.size(); ++c) {
    const double d_best = std::fabs(grid[best] - magnitude), d = std::fabs(grid[c] - magnitude);
    if (d < d_best || (d == d_best && (c & 1u) == 0)) best = c;
  }
  return {best == grid.size() - 1, best};
}

TEST(Float8Decode, E4M3EveryCodeMatchesTheFormatDefinition) {
  for (std::uint32_t c = 0; c < 256; ++c) {
    const double want = reference_decode(c, kE4M3);
    const float got = f8e4m3_to_f32(static_cast<std::uint8_t>(c));
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got)) << c;
    } else {
      EXPECT_EQ(want, static_cast<double>(got)) << c;
      EXPECT_EQ(std::signbit(want), std::signbit(got)) << c;
    }
  }
}

TEST(Float8Decode, E5M2EveryCodeMatchesTheFormatDefinition) {
  for (std::uint32_t c = 0; c < 256; ++c) {
    const double want = reference_decode(c, kE5M2);
    const float got = f8e5m2_to_f32(static_cast<std::uint8_t>(c));
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got)) << c;
    } else {
      EXPECT_EQ(want, static_cast<double>(got)) << c;
      EXPECT_EQ(std::signbit(want), std::signbit(got)) << c;
    }
  }
}

TEST(Float8Decode, KnownLandmarksOfBothFormats) {
  EXPECT_EQ(f8e4m3_to_f32(0x7e), 448.0f);        // E4M3FN largest finite
  EXPECT_TRUE(std::isnan(f8e4m3_to_f32(0x7f)));  // its only NaN (per sign)
  EXPECT_EQ(f8e4m3_to_f32(0x01), 0x1p-9f);       // smallest subnormal
  EXPECT_EQ(f8e4m3_to_f32(0x78), 256.0f);        // exponent 15 is a normal binade in E4M3FN
  EXPECT_EQ(f8e5m2_to_f32(0x7b), 57344.0f);      // E5M2 largest finite
  EXPECT_TRUE(std::isinf(f8e5m2_to_f32(0x7c)));
  EXPECT_TRUE(std::isnan(f8e5m2_to_f32(0x7d)));
  EXPECT_EQ(f8e5m2_to_f32(0x01), 0x1p-16f);
  EXPECT_EQ(f8e5m2_to_f32(0x80), -0.0f);
  EXPECT_TRUE(std::signbit(f8e5m2_to_f32(0x80)));
}

std::vector<float> float8_inputs(Format f, std::uint64_t seed) {
  std::vector<float> inputs;
  for (std::uint32_t c = 0; c < 128; ++c) {
    const double a = reference_decode(c, f);
    double b = reference_decode(c + 1, f);
    if (!std::isfinite(a)) break;
    inputs.push_back(static_cast<float>(a));
    if (!std::isfinite(b)) {
      const double next = a + (a - reference_decode(c - 1, f));
      b = next;
    }
    const float mid = static_cast<float>((a + b) / 2);
    inputs.insert(inputs.end(), {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, INFINITY)});
  }
  std::mt19937 rng(static_cast<std::uint32_t>(seed));
  std::uniform_real_distribution<float> u(0.0f, f.ieee_specials ? 70000.0f : 600.0f);
  std::uniform_real_distribution<float> e(-20.0f, 8.0f);
  for (int i = 0; i < 50'000; ++i) inputs.push_back(u(rng));
  for (int i = 0; i < 50'000; ++i) inputs.push_back(std::exp2(e(rng)));
  const std::size_t n = inputs.size();
  for (std::size_t i = 0; i < n; ++i) inputs.push_back(-inputs[i]);
  return inputs;
}

TEST(Float8Encode, E4M3RoundsToNearestEvenAndOverflowsToNan) {
  for (float x : float8_inputs(kE4M3, 3)) {
    const Rounded r = reference_round(std::fabs(static_cast<double>(x)), kE4M3);
    const std::uint8_t got = f32_to_f8e4m3(x);
    if (r.overflow) {
      ASSERT_TRUE(std::isnan(f8e4m3_to_f32(got))) << std::hexfloat << x;
    } else {
      ASSERT_EQ(r.code | (std::signbit(x) ? 0x80u : 0u), got) << std::hexfloat << x;
    }
  }
}

TEST(Float8Encode, E5M2RoundsToNearestEvenAndOverflowsToInfinity) {
  for (float x : float8_inputs(kE5M2, 4)) {
    const Rounded r = reference_round(std::fabs(static_cast<double>(x)), kE5M2);
    const std::uint8_t got = f32_to_f8e5m2(x);
    if (r.overflow) {
      ASSERT_EQ(0x7cu | (std::signbit(x) ? 0x80u : 0u), got) << std::hexfloat << x;
    } else {
      ASSERT_EQ(r.code | (std::signbit(x) ? 0x80u : 0u), got) << std::hexfloat << x;
    }
  }
}

TEST(Float8Encode, SpecialValues) {
  EXPECT_TRUE(std::isnan(f8e4m3_to_f32(f32_to_f8e4m3(NAN))));
  EXPECT_TRUE(std::isnan(f8e4m3_to_f32(f32_to_f8e4m3(INFINITY))));  // E4M3FN has no infinity
  EXPECT_TRUE(std::isnan(f8e5m2_to_f32(f32_to_f8e5m2(NAN))));
  EXPECT_EQ(f32_to_f8e5m2(INFINITY), 0x7c);
  EXPECT_EQ(f32_to_f8e5m2(-INFINITY), 0xfc);
  EXPECT_EQ(f32_to_f8e4m3(-0.0f), 0x80);
  EXPECT_EQ(f32_to_f8e5m2(-0.0f), 0x80);
}

TEST(Float8Encode, EveryFiniteCodeRoundTrips) {
  for (std::uint32_t c = 0; c < 256; ++c) {
    const float v4 = f8e4m3_to_f32(static_cast<std::uint8_t>(c));
    if (!std::isnan(v4)) {
      EXPECT_EQ(f32_to_f8e4m3(v4), c);
    }
    const float v5 = f8e5m2_to_f32(static_cast<std::uint8_t>(c));
    if (!std::isnan(v5)) {
      EXPECT_EQ(f32_to_f8e5m2(v5), c);
    }
  }
}

}  // namespace
}  // namespace paramdelta::fp
