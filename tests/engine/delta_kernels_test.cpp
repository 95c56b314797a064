// The element kernels of ParamΔ: compute (with the exception list that makes
// it lossless), apply, accumulate, conversions, non-finite detection.
#include "engine/delta_kernels.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <set>
#include <vector>

#include "core/float_bits.h"
#include "engine/convert.h"
#include "support/model_builder.h"

namespace paramdelta::engine {
namespace {

std::vector<std::byte> encode(DType d, const std::vector<double>& v) {
  std::vector<std::byte> out(v.size() * dtype_size(d));
  store_from_f64(v.data(), v.size(), d, out.data());
  return out;
}

std::vector<double> decode(DType d, const std::vector<std::byte>& bytes) {
  std::vector<double> out(bytes.size() / dtype_size(d));
  load_as_f64(bytes.data(), d, out.size(), out.data());
  return out;
}

// Random weights plus the adversarial cases: signed zeros, subnormals of the
// dtype, magnitudes 2^20 and 2^40 apart, the largest finite values, sign flips.
void make_pair(DType d, std::size_t n, std::uint64_t seed, std::vector<double>& base,
               std::vector<double>& post) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g(0.0, 0.02);
  const double max = d == DType::kF16    ? 65504.0
                     : d == DType::kBF16 ? 3.3895313892515355e38
                                         : 3.4028234663852886e38;
  const double tiny = d == DType::kF16 ? 0x1p-24 : d == DType::kBF16 ? 0x1p-133 : 0x1p-149;
  const double big_gap = d == DType::kF16 ? 0x1p+14 : 0x1p+40;  // f16 cannot hold 2^40
  base.clear();
  post.clear();
  auto add = [&](double b, double p) {
    base.push_back(b);
    post.push_back(p);
  };
  add(0.0, -0.0);
  add(-0.0, 0.0);
  add(-0.0, -0.0);
  add(tiny, -tiny);
  add(3 * tiny, 0.0);
  add(0.0, 5 * tiny);
  add(1.0, 0x1p-20);
  add(0x1p-20, 1.0);
  add(1.0, 1.0 + big_gap);
  add(big_gap, 1.0 / big_gap);
  add(max, -max);
  add(-max, max);
  add(max, max);
  add(max, tiny);
  add(0.75, -0.75);
  add(-1.5e-3, 1.5e-3);
  add(1.0, 1.0);
  while (base.size() < n) {
    const double b = g(rng);
    // Mostly fine-tuning-sized changes, sometimes a sign flip.
    add(b, (rng() % 50 == 0) ? -b * 1.01 : b + 0.05 * g(rng));
  }
  // Round both to the dtype so that they are the exact stored values.
  base = decode(d, encode(d, base));
  post = decode(d, encode(d, post));
}

struct Computed {
  std::vector<std::byte> delta;
  ExceptionBuffer exceptions;
  NonFinite nf;
};

Computed compute(DType bd, const std::vector<std::byte>& b, DType pd, const std::vector<std::byte>& p,
                 DType od, std::size_t n, std::uint64_t first_index = 0, bool with_exceptions = true) {
  Computed c;
  c.delta.resize(n * dtype_size(od));
  compute_delta_block(b.data(), bd, p.data(), pd, n, c.delta.data(), od, first_index,
                      with_exceptions ? &c.exceptions : nullptr, c.nf);
  return c;
}

class LosslessRoundTrip : public ::testing::TestWithParam<DType> {};

TEST_P(LosslessRoundTrip, ApplyingTheDeltaAndPatchingExceptionsGivesThePostBitForBit) {
  const DType d = GetParam();
  std::vector<double> bv, pv;
  make_pair(d, 5000, 1, bv, pv);
  const auto b = encode(d, bv), p = encode(d, pv);
  const std::size_t n = bv.size();
  Computed c = compute(d, b, d, p, d, n);
  EXPECT_FALSE(c.nf.found);
  std::vector<std::byte> out(n * dtype_size(d));
  apply_delta_block(b.data(), d, c.delta.data(), d, n, 1.0f, out.data(), d);
  const std::size_t es = dtype_size(d);
  for (std::size_t k = 0; k < c.exceptions.index.size(); ++k) {
    std::memcpy(out.data() + c.exceptions.index[k] * es, c.exceptions.post.data() + k * es, es);
  }
  EXPECT_EQ(std::memcmp(out.data(), p.data(), out.size()), 0);
  // Exceptions are rare on ordinary weights: only the adversarial head needs them.
  EXPECT_LT(c.exceptions.index.size(), n / 10);
}

TEST_P(LosslessRoundTrip, ExceptionsAreExactlyTheElementsThePlainDeltaCannotReproduce) {
  const DType d = GetParam();
  std::vector<double> bv, pv;
  make_pair(d, 3000, 2, bv, pv);
  const auto b = encode(d, bv), p = encode(d, pv);
  const std::size_t n = bv.size(), es = dtype_size(d);
  Computed c = compute(d, b, d, p, d, n, 1000);
  std::vector<std::byte> out(n * es);
  apply_delta_block(b.data(), d, c.delta.data(), d, n, 1.0f, out.data(), d);
  std::set<std::uint64_t> listed(c.exceptions.index.begin(), c.exceptions.index.end());
  EXPECT_EQ(listed.size(), c.exceptions.index.size()) << "indices must be unique";
  EXPECT_TRUE(std::is_sorted(c.exceptions.index.begin(), c.exceptions.index.end()));
  for (std::size_t i = 0; i < n; ++i) {
    const bool differs = std::memcmp(out.data() + i * es, p.data() + i * es, es) != 0;
    EXPECT_EQ(differs, listed.count(1000 + i) == 1) << "element " << i;
  }
  ASSERT_EQ(c.exceptions.base.size(), listed.size() * es);
  ASSERT_EQ(c.exceptions.post.size(), listed.size() * es);
  std::size_t k = 0;
  for (std::uint64_t idx : c.exceptions.index) {
    EXPECT_EQ(std::memcmp(c.exceptions.base.data() + k * es, b.data() + (idx - 1000) * es, es), 0);
    EXPECT_EQ(std::memcmp(c.exceptions.post.data() + k * es, p.data() + (idx - 1000) * es, es), 0);
    ++k;
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, LosslessRoundTrip, ::testing::Values(DType::kBF16, DType::kF16, DType::kF32),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST(ComputeDelta, ExtremeMagnitudeGapsAndOverflowingDifferencesBecomeExceptions) {
  const DType d = DType::kBF16;
  // 2^40 apart: the difference rounds to -2^40, so base + delta gives 0, not 1.
  // max - (-max) overflows to infinity in the delta dtype.
  const auto b = encode(d, {0x1p40, 3.3895313892515355e38});
  const auto p = encode(d, {1.0, -3.3895313892515355e38});
  Computed c = compute(d, b, d, p, d, 2);
  EXPECT_FALSE(c.nf.found) << "an overflowing difference is not a non-finite input";
  EXPECT_EQ(c.exceptions.index, (std::vector<std::uint64_t>{0, 1}));
}

TEST(ComputeDelta, CompactDeltaIsTheNearestValueOfTheDeltaDtype) {
  // f32 inputs, bf16 delta: each stored delta is within half a bf16 ulp of the exact difference.
  std::vector<double> bv, pv;
  make_pair(DType::kF32, 4000, 3, bv, pv);
  // Only the ordinary values: the adversarial head (17 pairs) overflows bf16.
  std::vector<double> b2(bv.begin() + 17, bv.end()), p2(pv.begin() + 17, pv.end());
  const auto b = encode(DType::kF32, b2), p = encode(DType::kF32, p2);
  Computed c = compute(DType::kF32, b, DType::kF32, p, DType::kBF16, b2.size(), 0, false);
  const auto delta = decode(DType::kBF16, c.delta);
  for (std::size_t i = 0; i < b2.size(); ++i) {
    const long double exact = static_cast<long double>(p2[i]) - b2[i];
    const long double stored = delta[i];
    const long double half_ulp = testing::ulp_in(DType::kBF16, stored == 0 ? exact : stored) / 2;
    EXPECT_LE(std::fabs(stored - exact), half_ulp + std::ldexp(std::fabs(exact), -24)) << i;
  }
  EXPECT_TRUE(c.exceptions.index.empty());
}

TEST(ComputeDelta, MixedInputDtypesAreComputedInFloat) {
  const auto b = encode(DType::kBF16, {1.0, -2.0, 0.5});
  const auto p = encode(DType::kF16, {1.5, -2.25, 0.5});
  Computed c = compute(DType::kBF16, b, DType::kF16, p, DType::kF16, 3);
  EXPECT_EQ(decode(DType::kF16, c.delta), (std::vector<double>{0.5, -0.25, 0.0}));
  EXPECT_TRUE(c.exceptions.index.empty());
}

TEST(ComputeDelta, F64InputsAreComputedInDouble) {
  const std::vector<double> bv = {1.0, 1e-300, 0.1}, pv = {1.0 + 0x1p-50, 2e-300, 0.3};
  const auto b = encode(DType::kF64, bv), p = encode(DType::kF64, pv);
  Computed c = compute(DType::kF64, b, DType::kF64, p, DType::kF64, 3);
  const auto delta = decode(DType::kF64, c.delta);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(delta[i], pv[i] - bv[i]);
}

TEST(ComputeDelta, ReportsTheFirstNonFiniteInputAndItsSide) {
  const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
  for (DType d : {DType::kBF16, DType::kF16, DType::kF32}) {
    {
      const auto b = encode(d, {1, 2, 3, 4, 5}), p = encode(d, {1, 2, 3, nan, inf});
      Computed c = compute(d, b, d, p, d, 5);
      EXPECT_TRUE(c.nf.found);
      EXPECT_EQ(c.nf.index, 3u);
      EXPECT_STREQ(c.nf.which, "post");
    }
    {
      const auto b = encode(d, {1, -inf, 3}), p = encode(d, {1, 2, nan});
      Computed c = compute(d, b, d, p, d, 3);
      EXPECT_EQ(c.nf.index, 1u);
      EXPECT_STREQ(c.nf.which, "base");
    }
  }
}

TEST(ComputeDelta, NonFiniteValuesAreReproducedBitForBitWithTheExceptions) {
  for (DType d : {DType::kBF16, DType::kF16, DType::kF32}) {
    const std::size_t es = dtype_size(d);
    const double inf = std::numeric_limits<double>::infinity();
    auto b = encode(d, {1, -inf, 3, 4, inf, 0});
    auto p = encode(d, {inf, 2, -inf, 0, inf, 0});
    // NaNs with unusual payloads and signs on both sides.
    const std::uint32_t nan32[] = {0xffa00001u, 0x7f800003u};
    const std::uint16_t nan16[] = {static_cast<std::uint16_t>(d == DType::kF16 ? 0xfe01 : 0xffa1),
                                   static_cast<std::uint16_t>(d == DType::kF16 ? 0x7c03 : 0x7f83)};
    std::memcpy(p.data() + 3 * es, d == DType::kF32 ? static_cast<const void*>(&nan32[0]) : &nan16[0], es);
    std::memcpy(b.data() + 5 * es, d == DType::kF32 ? static_cast<const void*>(&nan32[1]) : &nan16[1], es);
    Computed c = compute(d, b, d, p, d, 6);
    EXPECT_TRUE(c.nf.found);
    std::vector<std::byte> out(6 * es);
    apply_delta_block(b.data(), d, c.delta.data(), d, 6, 1.0f, out.data(), d);
    for (std::size_t k = 0; k < c.exceptions.index.size(); ++k) {
      std::memcpy(out.data() + c.exceptions.index[k] * es, c.exceptions.post.data() + k * es, es);
    }
    EXPECT_TRUE(out == p) << dtype_name(d);
  }
}

TEST(ApplyDelta, ScaledApplicationIsWithinHalfAnUlpOfTheExactResult) {
  std::mt19937_64 rng(9);
  std::normal_distribution<double> g(0.0, 0.05);
  const std::size_t n = 20000;
  std::vector<double> bv(n), dv(n);
  for (auto& v : bv) v = g(rng);
  for (auto& v : dv) v = 0.01 * g(rng);
  for (DType d : {DType::kBF16, DType::kF16, DType::kF32}) {
    const auto b = encode(d, bv), delta = encode(d, dv);
    const auto bq = decode(d, b), dq = decode(d, delta);
    for (float scale : {0.5f, -1.0f, 1.7f, 0.3f}) {
      std::vector<std::byte> out(n * dtype_size(d));
      apply_delta_block(b.data(), d, delta.data(), d, n, scale, out.data(), d);
      const auto got = decode(d, out);
      std::size_t not_nearest = 0;
      for (std::size_t i = 0; i < n; ++i) {
        const long double exact = static_cast<long double>(bq[i]) + static_cast<long double>(scale) * dq[i];
        const long double ulp = testing::ulp_in(d, got[i] != 0 ? got[i] : exact);
        // fp32 arithmetic adds at most a few float32 ulps before the final rounding.
        const long double slack = std::ldexp(std::fabs(bq[i]) + std::fabs(scale * dq[i]), -22);
        ASSERT_LE(std::fabs(got[i] - exact), ulp / 2 + slack)
            << dtype_name(d) << " scale " << scale << " [" << i << "]";
        not_nearest += std::fabs(got[i] - exact) > ulp / 2;
      }
      if (d != DType::kF32) {
        EXPECT_LT(not_nearest, n / 100) << dtype_name(d) << " scale " << scale;
      }
    }
  }
}

// F64 tensors are scaled by the scale as given, not by its float rounding:
// base + 0.1·delta in double, bit for bit, on the fused path (F64 throughout)
// and on the staged one (an F32 delta onto an F64 base).
TEST(ApplyDelta, F64IsScaledByTheDoubleScale) {
  std::mt19937_64 rng(5);
  std::normal_distribution<double> g(0.0, 1.0);
  const std::size_t n = 4096;
  std::vector<double> bv(n), dv(n);
  for (auto& v : bv) v = g(rng);
  for (auto& v : dv) v = static_cast<float>(0.01 * g(rng));  // exact in F32 too
  for (DType delta_dtype : {DType::kF64, DType::kF32}) {
    const auto b = encode(DType::kF64, bv), delta = encode(delta_dtype, dv);
    for (double scale : {0.1, -0.3, 1.0 / 3.0}) {
      std::vector<std::byte> out(n * 8);
      apply_delta_block(b.data(), DType::kF64, delta.data(), delta_dtype, n, scale, out.data(), DType::kF64);
      std::size_t differing = 0;
      for (std::size_t i = 0; i < n; ++i) {
        double got;
        std::memcpy(&got, out.data() + i * 8, 8);
        const double want = bv[i] + scale * dv[i];
        differing += std::bit_cast<std::uint64_t>(got) != std::bit_cast<std::uint64_t>(want);
      }
      EXPECT_EQ(differing, 0u) << dtype_name(delta_dtype) << " delta, scale " << scale;
    }
  }
}

TEST(ApplyDelta, ConvertsToADifferentOutputDtype) {
  const auto b = encode(DType::kBF16, {1.0, 2.0}), delta = encode(DType::kBF16, {0.5, -0.25});
  std::vector<std::byte> out(2 * 4);
  apply_delta_block(b.data(), DType::kBF16, delta.data(), DType::kBF16, 2, 2.0f, out.data(), DType::kF32);
  EXPECT_EQ(decode(DType::kF32, out), (std::vector<double>{2.0, 1.5}));
}

TEST(AccumulateDelta, AddsWeightedValues) {
  const auto d1 = encode(DType::kBF16, {1.0, -2.0, 0.5}), d2 = encode(DType::kF16, {0.25, 0.25, 0.25});
  std::vector<float> acc(3, 0.0f);
  accumulate_block(d1.data(), DType::kBF16, 3, 2.0f, acc.data());
  accumulate_block(d2.data(), DType::kF16, 3, -4.0f, acc.data());
  EXPECT_EQ(acc, (std::vector<float>{1.0f, -5.0f, 0.0f}));
}

TEST(FindNonFinite, FindsTheFirstNanOrInfinityInEveryFloatDtype) {
  const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
  for (DType d : {DType::kBF16, DType::kF16, DType::kF32, DType::kF64, DType::kF8E5M2}) {
    EXPECT_FALSE(find_non_finite(encode(d, {0, 1, -1, 2}).data(), d, 4, "x").found) << dtype_name(d);
    auto r = find_non_finite(encode(d, {0, 1, -inf, nan}).data(), d, 4, "x");
    EXPECT_TRUE(r.found) << dtype_name(d);
    EXPECT_EQ(r.index, 2u) << dtype_name(d);
    EXPECT_EQ(find_non_finite(encode(d, {0, nan}).data(), d, 2, "x").index, 1u) << dtype_name(d);
  }
  // E4M3FN has no infinity: its only non-finite codes are 0x7f and 0xff.
  const std::vector<std::byte> e4 = {std::byte{0x7e}, std::byte{0xfe}, std::byte{0x78}, std::byte{0xff}};
  auto r = find_non_finite(e4.data(), DType::kF8E4M3, 4, "x");
  EXPECT_TRUE(r.found);
  EXPECT_EQ(r.index, 3u);
  EXPECT_FALSE(find_non_finite(e4.data(), DType::kF8E4M3, 3, "x").found);
  // Integer tensors are always finite.
  const std::vector<std::byte> ints(8, std::byte{0xff});
  EXPECT_FALSE(find_non_finite(ints.data(), DType::kI32, 2, "x").found);
}

TEST(FindOverflow, FindsTheFirstNonFiniteResultWhoseInputsAreFinite) {
  const double inf = std::numeric_limits<double>::infinity();
  const auto a = encode(DType::kF32, {1, inf, 3, 4, 5});
  const auto b = encode(DType::kF32, {1, 2, 3, 4, 5});
  // Element 1 is infinite because an input is; element 3 overflowed.
  const auto result = encode(DType::kBF16, {0, inf, 0, -inf, inf});
  auto r =
      find_overflow(result.data(), DType::kBF16, 5, a.data(), DType::kF32, b.data(), DType::kF32, "delta");
  EXPECT_TRUE(r.found);
  EXPECT_EQ(r.index, 3u);
  EXPECT_STREQ(r.which, "delta");
  EXPECT_FALSE(
      find_overflow(result.data(), DType::kBF16, 3, a.data(), DType::kF32, b.data(), DType::kF32, "d").found);
  r = find_overflow(result.data(), DType::kBF16, 5, b.data(), DType::kF32, nullptr, DType::kF32, "post");
  EXPECT_EQ(r.index, 1u) << "one input only";
}

TEST(ComputeDeltaBlock, ReportsTheFirstDeltaBeyondTheOutputRangeOnEveryPath) {
  const double inf = std::numeric_limits<double>::infinity();
  struct Case {
    DType in, out;  // bf16 -> f16 and f32 -> bf16 are fused; f64 -> f32 is staged
    double small, large;
  };
  for (const Case c :
       {Case{DType::kBF16, DType::kF16, 1.0, 40000.0}, Case{DType::kF32, DType::kBF16, 1.0, 2e38},
        Case{DType::kF64, DType::kF32, 1.0, 1e300}}) {
    std::vector<double> base(300, c.small), post(300, 2 * c.small);
    base[7] = inf;  // not an overflow: an input is infinite
    base[130] = -c.large;
    post[130] = c.large;
    base[200] = -c.large;
    post[200] = c.large;
    const auto b = encode(c.in, base), p = encode(c.in, post);
    std::vector<std::byte> out(300 * dtype_size(c.out));
    NonFinite nf, overflow;
    compute_delta_block(b.data(), c.in, p.data(), c.in, 300, out.data(), c.out, 0, nullptr, nf, &overflow);
    EXPECT_TRUE(nf.found) << dtype_name(c.out);
    EXPECT_EQ(nf.index, 7u);
    EXPECT_TRUE(overflow.found) << dtype_name(c.out);
    EXPECT_EQ(overflow.index, 130u) << dtype_name(c.out);
    NonFinite none;
    compute_delta_block(b.data() + 131 * dtype_size(c.in), c.in, p.data() + 131 * dtype_size(c.in), c.in, 60,
                        out.data(), c.out, 0, nullptr, nf, &none);
    EXPECT_FALSE(none.found) << dtype_name(c.out);
  }
}

TEST(ConvertBlock, WideningIsExactAndNarrowingRoundsToNearestEven) {
  std::vector<std::byte> src(65536 * 2);
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const std::uint16_t v = static_cast<std::uint16_t>(h);
    std::memcpy(src.data() + 2 * h, &v, 2);
  }
  std::vector<std::byte> wide(65536 * 4), back(65536 * 2);
  convert_block(src.data(), DType::kBF16, 65536, wide.data(), DType::kF32);
  convert_block(wide.data(), DType::kF32, 65536, back.data(), DType::kBF16);
  for (std::uint32_t h = 0; h < 65536; ++h) {
    float f;
    std::memcpy(&f, wide.data() + 4 * h, 4);
    if (std::isnan(f)) continue;
    EXPECT_EQ(f, fp::bf16_to_f32(static_cast<std::uint16_t>(h)));
    EXPECT_EQ(std::memcmp(back.data() + 2 * h, src.data() + 2 * h, 2), 0) << h;
  }
}

TEST(ConvertDouble, NarrowingFromDoubleIsOneCorrectRounding) {
  // Values just above a 16-bit midpoint: rounding to float first would land
  // exactly on the midpoint and then round to even, i.e. the wrong way.
  for (double above : {0x1p-40, 0x1p-30}) {
    const double bf16_mid = 1.0 + 0x1p-8;  // between 1 and 1 + 2^-7
    EXPECT_EQ(bits_to_f64(f64_to_bits(bf16_mid + above, DType::kBF16), DType::kBF16), 1.0 + 0x1p-7);
    EXPECT_EQ(bits_to_f64(f64_to_bits(bf16_mid - above, DType::kBF16), DType::kBF16), 1.0);
    const double f16_mid = 1.0 + 0x1p-11;
    EXPECT_EQ(bits_to_f64(f64_to_bits(f16_mid + above, DType::kF16), DType::kF16), 1.0 + 0x1p-10);
    EXPECT_EQ(bits_to_f64(f64_to_bits(f16_mid - above, DType::kF16), DType::kF16), 1.0);
  }
  EXPECT_EQ(bits_to_f64(f64_to_bits(1.0 + 0x1p-8, DType::kBF16), DType::kBF16), 1.0);  // a true tie: to even
  EXPECT_TRUE(std::isinf(bits_to_f64(f64_to_bits(1e300, DType::kBF16), DType::kBF16)));
  EXPECT_TRUE(std::isnan(bits_to_f64(f64_to_bits(std::nan(""), DType::kF16), DType::kF16)));
}

TEST(ConvertDouble, IntegerDtypesRoundTrip) {
  for (DType d : {DType::kI8, DType::kU8, DType::kI16, DType::kU16, DType::kI32, DType::kU32, DType::kI64}) {
    for (double v : {0.0, 1.0, 7.0, 100.0}) EXPECT_EQ(bits_to_f64(f64_to_bits(v, d), d), v) << dtype_name(d);
  }
  EXPECT_EQ(bits_to_f64(f64_to_bits(-5.0, DType::kI32), DType::kI32), -5.0);
  EXPECT_EQ(bits_to_f64(0xffull, DType::kI8), -1.0);
}

}  // namespace
}  // namespace paramdelta::engine

namespace paramdelta::engine {
namespace {

// The block conversions have loops of their own for the common dtypes; they
// must agree bit for bit with the element-wise definitions.
TEST(BlockConversions, AgreeWithTheElementConversionsOnEveryPattern) {
  for (DType d : {DType::kBF16, DType::kF16}) {
    std::vector<std::byte> bytes(65536 * 2);
    for (std::uint32_t b = 0; b < 65536; ++b) {
      const std::uint16_t v = static_cast<std::uint16_t>(b);
      std::memcpy(bytes.data() + 2 * b, &v, 2);
    }
    std::vector<double> wide(65536);
    load_as_f64(bytes.data(), d, wide.size(), wide.data());
    for (std::uint32_t b = 0; b < 65536; ++b)
      ASSERT_EQ(std::bit_cast<std::uint64_t>(wide[b]), std::bit_cast<std::uint64_t>(bits_to_f64(b, d)))
          << dtype_name(d) << " " << b;
  }
  std::mt19937_64 rng(5);
  std::vector<double> values(100'000);
  for (auto& v : values) v = std::bit_cast<double>(rng());  // every class: NaNs, subnormals, huge values
  values[0] = std::numeric_limits<double>::infinity();
  values[1] = -0.0;
  values[2] = 3.4028235677973366e38;  // rounds to infinity in float32
  for (DType d : {DType::kF32, DType::kF64, DType::kBF16, DType::kF16}) {
    std::vector<std::byte> stored(values.size() * dtype_size(d));
    store_from_f64(values.data(), values.size(), d, stored.data());
    std::vector<double> back(values.size());
    load_as_f64(stored.data(), d, back.size(), back.data());
    for (std::size_t i = 0; i < values.size(); ++i) {
      ASSERT_EQ(element_bits(stored.data(), d, i), f64_to_bits(values[i], d)) << dtype_name(d) << " " << i;
      ASSERT_EQ(std::bit_cast<std::uint64_t>(back[i]),
                std::bit_cast<std::uint64_t>(bits_to_f64(element_bits(stored.data(), d, i), d)))
          << dtype_name(d) << " " << i;
    }
  }
}

}  // namespace
}  // namespace paramdelta::engine
