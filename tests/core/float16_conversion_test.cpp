// bf16 and f16 conversions against independent oracles: a decoder written from
// the format definitions (sign, exponent, mantissa -> ldexp in long double),
// GCC's own _Float16 conversions where the compiler has them, and a
// round-to-nearest-even encoder that searches the sorted table of every
// representable value.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "core/float_bits.h"

namespace paramdelta::fp {
namespace {

// Decodes a binary floating-point format from its definition.
long double reference_decode(std::uint32_t bits, int exp_bits, int man_bits) {
  const std::uint32_t sign = (bits >> (exp_bits + man_bits)) & 1u;
  const std::uint32_t exp = (bits >> man_bits) & ((1u << exp_bits) - 1);
  const std::uint32_t man = bits & ((1u << man_bits) - 1);
  const int bias = (1 << (exp_bits - 1)) - 1;
  long double magnitude;
  if (exp == (1u << exp_bits) - 1) {
    magnitude = man == 0 ? std::numeric_limits<long double>::infinity()
                         : std::numeric_limits<long double>::quiet_NaN();
  } else if (exp == 0) {
    magnitude = std::ldexp(static_cast<long double>(man), 1 - bias - man_bits);
  } else {
    magnitude =
        std::ldexp(static_cast<long double>(man | (1u << man_bits)), static_cast<int>(exp) - bias - man_bits);
  }
  return sign ? -magnitude : magnitude;
}

long double reference_bf16(std::uint16_t h) { return reference_decode(h, 8, 7); }
long double reference_f16(std::uint16_t h) { return reference_decode(h, 5, 10); }

void expect_same_value(long double want, float got, std::uint32_t pattern) {
  if (std::isnan(want)) {
    EXPECT_TRUE(std::isnan(got)) << std::hex << "pattern 0x" << pattern;
    return;
  }
  EXPECT_EQ(want, static_cast<long double>(got)) << std::hex << "pattern 0x" << pattern;
  EXPECT_EQ(std::signbit(want), std::signbit(got)) << std::hex << "pattern 0x" << pattern;
}

TEST(Bf16Decode, EveryPatternMatchesTheFormatDefinition) {
  for (std::uint32_t h = 0; h < 65536; ++h)
    expect_same_value(reference_bf16(static_cast<std::uint16_t>(h)),
                      bf16_to_f32(static_cast<std::uint16_t>(h)), h);
}

TEST(F16Decode, EveryPatternMatchesTheFormatDefinition) {
  for (std::uint32_t h = 0; h < 65536; ++h)
    expect_same_value(reference_f16(static_cast<std::uint16_t>(h)), f16_to_f32(static_cast<std::uint16_t>(h)),
                      h);
}

#if defined(__FLT16_MAX__)
TEST(F16Decode, EveryPatternMatchesTheCompilersFloat16) {
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const std::uint16_t bits = static_cast<std::uint16_t>(h);
    _Float16 v;
    std::memcpy(&v, &bits, 2);
    expect_same_value(static_cast<long double>(static_cast<float>(v)), f16_to_f32(bits), h);
  }
}
#endif

TEST(Bf16Decode, NanPatternsStayNanAndKeepTheirPayloadBits) {
  for (std::uint32_t h = 0x7f81; h <= 0x7fff; ++h) {
    const float f = bf16_to_f32(static_cast<std::uint16_t>(h));
    EXPECT_TRUE(std::isnan(f));
    EXPECT_EQ(std::bit_cast<std::uint32_t>(f) >> 16, h);
  }
}

// Round-to-nearest-even by search: the sorted table of all finite values of
// one sign, and the largest finite value's "next" (as if the exponent went on)
// to decide overflow.
class ReferenceEncoder {
 public:
  ReferenceEncoder(int exp_bits, int man_bits) : exp_bits_(exp_bits), man_bits_(man_bits) {
    const std::uint32_t max_exp = (1u << exp_bits) - 1;
    for (std::uint32_t bits = 0; bits < (max_exp << man_bits); ++bits) {
      values_.push_back(reference_decode(bits, exp_bits, man_bits));
    }
    const long double top = values_.back();
    overflow_halfway_ = top + (top - values_[values_.size() - 2]) / 2;
    infinity_ = max_exp << man_bits;
  }

  std::uint32_t encode(float x) const {
    const std::uint32_t sign = std::signbit(x) ? 1u << (exp_bits_ + man_bits_) : 0u;
    const long double m = std::fabs(static_cast<long double>(x));
    if (std::isinf(m)) return sign | infinity_;
    // At or beyond the halfway point to the next (nonexistent) binade value: infinity
    // (the largest finite mantissa is odd, so the tie goes up).
    if (m >= overflow_halfway_) return sign | infinity_;
    auto it = std::lower_bound(values_.begin(), values_.end(), m);
    std::uint32_t hi = static_cast<std::uint32_t>(it - values_.begin());
    if (hi < values_.size() && values_[hi] == m) return sign | hi;
    if (hi == values_.size()) return sign | (hi - 1);
    const std::uint32_t lo = hi - 1;
    const long double mid = (values_[lo] + values_[hi]) / 2;
    if (m < mid) return sign | lo;
    if (m > mid) return sign | hi;
    return sign | ((lo & 1u) == 0 ? lo : hi);
  }

 private:
  int exp_bits_, man_bits_;
  std::vector<long double> values_;
  long double overflow_halfway_ = 0;
  std::uint32_t infinity_ = 0;
};

const ReferenceEncoder& bf16_reference() {
  static const ReferenceEncoder r(8, 7);
  return r;
}
const ReferenceEncoder& f16_reference() {
  static const ReferenceEncoder r(5, 10);
  return r;
}

// Every representable value, every midpoint between neighbours (the ties) and
// the floats just either side of each midpoint.
std::vector<float> structured_inputs(long double (*decode)(std::uint16_t)) {
  std::vector<float> inputs;
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const long double a = decode(static_cast<std::uint16_t>(h));
    if (!std::isfinite(a)) continue;
    inputs.push_back(static_cast<float>(a));
    const std::uint32_t next = (h & 0x7fffu) + 1;
    const long double b = decode(static_cast<std::uint16_t>((h & 0x8000u) | next));
    if (!std::isfinite(b) || (next & 0x8000u)) continue;
    const float mid = static_cast<float>((a + b) / 2);
    if (static_cast<long double>(mid) != (a + b) / 2) continue;  // not representable as float32
    inputs.push_back(mid);
    inputs.push_back(std::nextafter(mid, 0.0f));
    inputs.push_back(std::nextafter(mid, std::signbit(mid) ? -INFINITY : INFINITY));
  }
  return inputs;
}

std::vector<float> random_inputs(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<float> out;
  out.reserve(n);
  while (out.size() < n) {
    const float f = std::bit_cast<float>(static_cast<std::uint32_t>(rng()));
    if (!std::isnan(f)) out.push_back(f);
  }
  return out;
}

TEST(Bf16Encode, ValuesMidpointsAndNeighboursRoundToNearestEven) {
  for (float x : structured_inputs(reference_bf16)) {
    ASSERT_EQ(bf16_reference().encode(x), f32_to_bf16(x)) << std::hexfloat << x;
  }
}

TEST(Bf16Encode, RandomFloat32PatternsRoundToNearestEven) {
  for (float x : random_inputs(1'000'000, 11))
    ASSERT_EQ(bf16_reference().encode(x), f32_to_bf16(x)) << std::hexfloat << x;
}

TEST(F16Encode, ValuesMidpointsAndNeighboursRoundToNearestEven) {
  for (float x : structured_inputs(reference_f16)) {
    ASSERT_EQ(f16_reference().encode(x), f32_to_f16(x)) << std::hexfloat << x;
  }
}

TEST(F16Encode, RandomFloat32PatternsRoundToNearestEven) {
  for (float x : random_inputs(1'000'000, 12))
    ASSERT_EQ(f16_reference().encode(x), f32_to_f16(x)) << std::hexfloat << x;
}

TEST(F16Encode, SmallMagnitudesRoundOntoTheSubnormalGrid) {
  // Dense sweep of the float32 range below half's smallest normal (2^-14),
  // where the encoder takes its own path.
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(0.0f, 0x1p-14f);
  for (int i = 0; i < 200'000; ++i) {
    const float x = (i & 1) ? -u(rng) : u(rng);
    ASSERT_EQ(f16_reference().encode(x), f32_to_f16(x)) << std::hexfloat << x;
  }
}

#if defined(__FLT16_MAX__)
TEST(F16Encode, AgreesWithTheCompilersFloat16OnStructuredAndRandomInputs) {
  std::vector<float> inputs = structured_inputs(reference_f16);
  auto more = random_inputs(200'000, 13);
  inputs.insert(inputs.end(), more.begin(), more.end());
  for (float x : inputs) {
    const _Float16 h = static_cast<_Float16>(x);
    std::uint16_t bits;
    std::memcpy(&bits, &h, 2);
    ASSERT_EQ(bits, f32_to_f16(x)) << std::hexfloat << x;
  }
}
#endif

TEST(Bf16Encode, TiesGoToTheEvenMantissa) {
  // 1 + 2^-8 lies halfway between 1 (even mantissa) and 1 + 2^-7 (odd): down.
  EXPECT_EQ(f32_to_bf16(1.0f + 0x1p-8f), f32_to_bf16(1.0f));
  // 1 + 3·2^-8 lies halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even): up.
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(1.0f + 3 * 0x1p-8f)), 1.0f + 0x1p-6f);
  // Just above the tie rounds up.
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(std::nextafter(1.0f + 0x1p-8f, 2.0f))), 1.0f + 0x1p-7f);
}

TEST(F16Encode, TiesGoToTheEvenMantissa) {
  EXPECT_EQ(f16_to_f32(f32_to_f16(1.0f + 0x1p-11f)), 1.0f);
  EXPECT_EQ(f16_to_f32(f32_to_f16(1.0f + 3 * 0x1p-11f)), 1.0f + 0x1p-9f);
  // Subnormal tie: halfway between 0 and the smallest subnormal 2^-24 goes to 0.
  EXPECT_EQ(f16_to_f32(f32_to_f16(0x1p-25f)), 0.0f);
  // Halfway between 2^-24 (odd) and 2^-23 (even) goes up.
  EXPECT_EQ(f16_to_f32(f32_to_f16(3 * 0x1p-25f)), 0x1p-23f);
}

TEST(Bf16Encode, OverflowRoundsToInfinityOnlyPastTheHalfwayPoint) {
  const float max_bf16 = bf16_to_f32(0x7f7f);
  EXPECT_EQ(f32_to_bf16(max_bf16), 0x7f7f);
  EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::max()), 0x7f80);  // above the halfway point
  EXPECT_EQ(f32_to_bf16(-std::numeric_limits<float>::max()), 0xff80);
  EXPECT_EQ(f32_to_bf16(std::nextafter(max_bf16, INFINITY)), 0x7f7f);
}

TEST(F16Encode, OverflowRoundsToInfinityAtTheHalfwayPoint) {
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7bff);
  EXPECT_EQ(f32_to_f16(65519.996f), 0x7bff);
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);  // halfway to 65536: tie to even, i.e. infinity
  EXPECT_EQ(f32_to_f16(-1e10f), 0xfc00);
}

TEST(Bf16Encode, NanStaysNanWhateverItsPayload) {
  for (std::uint32_t payload : {0x7f800001u, 0x7fffffffu, 0x7f80ffffu, 0xffc00000u, 0x7fbfffffu}) {
    const float nan = std::bit_cast<float>(payload);
    EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(nan)))) << std::hex << payload;
    EXPECT_EQ(f32_to_bf16(nan) & 0x8000u, (payload >> 16) & 0x8000u);
  }
}

TEST(F16Encode, NanStaysNanAndInfinitiesStayInfinite) {
  for (std::uint32_t payload : {0x7f800001u, 0x7fffffffu, 0xffc00000u, 0x7f802000u}) {
    EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(std::bit_cast<float>(payload))))) << std::hex << payload;
  }
  EXPECT_EQ(f32_to_f16(INFINITY), 0x7c00);
  EXPECT_EQ(f32_to_f16(-INFINITY), 0xfc00);
  EXPECT_EQ(f32_to_bf16(INFINITY), 0x7f80);
  EXPECT_EQ(f32_to_bf16(-INFINITY), 0xff80);
}

TEST(Bf16Encode, SignedZerosAndFloat32SubnormalsKeepTheirSign) {
  EXPECT_EQ(f32_to_bf16(0.0f), 0x0000);
  EXPECT_EQ(f32_to_bf16(-0.0f), 0x8000);
  // bf16 shares float32's exponent range: float32 subnormals have bf16 neighbours.
  EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::denorm_min()), 0x0000);
  EXPECT_EQ(f32_to_bf16(-std::numeric_limits<float>::denorm_min()), 0x8000);
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(0x1p-133f)), 0x1p-133f);
}

TEST(RoundTrip, EveryFiniteSixteenBitValueSurvivesWideningAndNarrowing) {
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const auto bits = static_cast<std::uint16_t>(h);
    if (std::isfinite(bf16_to_f32(bits))) {
      ASSERT_EQ(f32_to_bf16(bf16_to_f32(bits)), bits) << std::hex << h;
    }
    if (std::isfinite(f16_to_f32(bits))) {
      ASSERT_EQ(f32_to_f16(f16_to_f32(bits)), bits) << std::hex << h;
    }
  }
}

TEST(FiniteCheck, RecognisesNanAndInfinityOnly) {
  EXPECT_TRUE(f32_is_finite(std::numeric_limits<float>::max()));
  EXPECT_TRUE(f32_is_finite(-0.0f));
  EXPECT_TRUE(f32_is_finite(std::numeric_limits<float>::denorm_min()));
  EXPECT_FALSE(f32_is_finite(INFINITY));
  EXPECT_FALSE(f32_is_finite(-INFINITY));
  EXPECT_FALSE(f32_is_finite(std::numeric_limits<float>::quiet_NaN()));
}

}  // namespace
}  // namespace paramdelta::fp
