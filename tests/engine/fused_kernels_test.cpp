// The single-pass compute and apply kernels against an element-by-element
// oracle written from the definition, for every float dtype combination,
// on the values that stress a vectorised fast path: signed zeros, subnormals,
// infinities, NaNs with payloads, the largest finite values, rounding ties,
// and lengths that are not multiples of any vector width or block size.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/float_bits.h"
#include "engine/convert.h"
#include "engine/delta_kernels.h"
#include "engine/element_codecs.h"

namespace paramdelta::engine {
namespace {

const DType kFloats[] = {DType::kBF16, DType::kF16, DType::kF32, DType::kF64, DType::kF8E4M3, DType::kF8E5M2};

// The arithmetic of the format, one element at a time: float32 unless a
// dtype involved is F64, round-to-nearest-even on every store.
struct Oracle {
  bool wide;
  double widen(std::uint64_t bits, DType d) const {
    const double v = bits_to_f64(bits, d);
    return wide ? v : static_cast<double>(static_cast<float>(v));
  }
  std::uint64_t narrow(double v, DType d) const { return f64_to_bits(v, d); }
  double sub(double a, double b) const {
    return wide ? a - b : static_cast<double>(static_cast<float>(a) - static_cast<float>(b));
  }
  double add(double a, double b) const {
    return wide ? a + b : static_cast<double>(static_cast<float>(a) + static_cast<float>(b));
  }
  double mul(double a, double b) const {
    return wide ? a * b : static_cast<double>(static_cast<float>(a) * static_cast<float>(b));
  }
};

Oracle oracle_for(DType a, DType b, DType c) {
  return Oracle{a == DType::kF64 || b == DType::kF64 || c == DType::kF64};
}

std::uint64_t bits_at(const std::vector<std::byte>& v, DType d, std::size_t i) {
  return element_bits(v.data(), d, i);
}

void put_bits(std::vector<std::byte>& v, DType d, std::size_t i, std::uint64_t bits) {
  std::memcpy(v.data() + i * dtype_size(d), &bits, dtype_size(d));
}

std::uint64_t bits_of(double v, DType d) { return f64_to_bits(v, d); }

// Bit patterns that matter for dtype d, as raw bits.
std::vector<std::uint64_t> special_bits(DType d) {
  std::vector<std::uint64_t> out;
  const int bits = static_cast<int>(dtype_size(d) * 8);
  const std::uint64_t sign = 1ull << (bits - 1);
  auto both = [&](std::uint64_t b) {
    out.push_back(b);
    out.push_back(b | sign);
  };
  both(0);  // signed zeros
  both(1);  // smallest subnormal
  both(2);
  both(3);
  switch (d) {
    case DType::kBF16:
      both(0x007f);
      both(0x0080);
      both(0x7f7f);  // largest subnormal, smallest normal, largest finite
      both(0x7f80);
      both(0x7fc0);
      both(0x7f81);
      both(0x7fa5);
      both(0x7fff);  // inf, NaNs (quiet, signalling, payloads)
      both(0x3f80);
      both(0x3f81);
      break;
    case DType::kF16:
      both(0x03ff);
      both(0x0400);
      both(0x7bff);
      both(0x7c00);
      both(0x7e00);
      both(0x7c01);
      both(0x7d55);
      both(0x7fff);
      both(0x3c00);
      both(0x3c01);
      break;
    case DType::kF32:
      both(0x007fffff);
      both(0x00800000);
      both(0x7f7fffff);
      both(0x7f800000);
      both(0x7fc00000);
      both(0x7f800001);
      both(0x7fa5a5a5);
      both(0x7fffffff);
      both(0x3f800000);
      both(0x3f808000);
      both(0x3f818000);
      both(0x3f801000);  // bf16 and f16 ties
      both(0x33800000);
      both(0x33000000);  // half's smallest subnormal and half of it
      break;
    case DType::kF64:
      both(0x000fffffffffffffull);
      both(0x0010000000000000ull);
      both(0x7fefffffffffffffull);
      both(0x7ff0000000000000ull);
      both(0x7ff8000000000000ull);
      both(0x7ff0000000000001ull);
      both(0x7ff5a5a5a5a5a5a5ull);
      both(0x3ff0000000000000ull);
      both(0x3ff0000010000000ull);  // f32 tie
      break;
    case DType::kF8E4M3:
      both(0x07);
      both(0x08);
      both(0x7e);
      both(0x7f);  // largest subnormal, smallest normal, largest, NaN
      break;
    case DType::kF8E5M2:
      both(0x03);
      both(0x04);
      both(0x7b);
      both(0x7c);
      both(0x7d);
      both(0x7e);
      break;
    default:
      break;
  }
  return out;
}

// Base and post vectors of length n: every pair of special values, values
// whose difference is a rounding tie of `tie_dtype`, near-equal pairs of
// ordinary weights, and random bit patterns.
void make_inputs(DType bd, DType pd, DType tie_dtype, std::size_t n, std::uint64_t seed,
                 std::vector<std::byte>& base, std::vector<std::byte>& post) {
  std::mt19937_64 rng(seed);
  base.assign(n * dtype_size(bd), std::byte{0});
  post.assign(n * dtype_size(pd), std::byte{0});
  const auto sb = special_bits(bd), sp = special_bits(pd);
  std::size_t i = 0;
  for (std::size_t a = 0; a < sb.size() && i < n; ++a) {
    for (std::size_t b = 0; b < sp.size() && i < n; ++b, ++i) {
      put_bits(base, bd, i, sb[a]);
      put_bits(post, pd, i, sp[b]);
    }
  }
  std::normal_distribution<double> g(0.0, 0.02);
  while (i < n) {
    const int kind = static_cast<int>(rng() % 4);
    std::uint64_t b = 0, p = 0;
    if (kind == 0) {
      // post - base exactly halfway between two neighbours in tie_dtype.
      const double x = bits_to_f64(bits_of(g(rng), tie_dtype), tie_dtype);
      const double ulp = std::fabs(bits_to_f64(bits_of(x, tie_dtype) + 1, tie_dtype) - x);
      const double b0 = g(rng) * 0.01;
      b = bits_of(b0, bd);
      p = bits_of(bits_to_f64(b, bd) + x + ulp / 2, pd);
    } else if (kind == 1) {
      const double b0 = g(rng);
      b = bits_of(b0, bd);
      p = bits_of(b0 + 0.05 * g(rng), pd);
    } else {
      b = rng();
      p = kind == 2 ? rng() : b ^ (rng() & 0xff);
    }
    put_bits(base, bd, i, b);
    put_bits(post, pd, i, p);
    ++i;
  }
  // Shuffle the pairs so that specials land in every lane and block position.
  for (std::size_t k = n; k > 1; --k) {
    const std::size_t j = rng() % k;
    const std::uint64_t tb = bits_at(base, bd, k - 1), tp = bits_at(post, pd, k - 1);
    put_bits(base, bd, k - 1, bits_at(base, bd, j));
    put_bits(post, pd, k - 1, bits_at(post, pd, j));
    put_bits(base, bd, j, tb);
    put_bits(post, pd, j, tp);
  }
}

bool is_nan_bits(std::uint64_t bits, DType d) { return std::isnan(bits_to_f64(bits, d)); }

class FusedCompute : public ::testing::TestWithParam<std::tuple<DType, DType, DType>> {};

TEST_P(FusedCompute, MatchesTheElementwiseDefinition) {
  const auto [bd, pd, od] = GetParam();
  const Oracle o = oracle_for(bd, pd, od);
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{63}, std::size_t{64},
                        std::size_t{65}, std::size_t{1031}, std::size_t{5003}}) {
    std::vector<std::byte> base, post;
    make_inputs(bd, pd, od, n, n * 977 + 3, base, post);
    std::vector<std::byte> delta(n * dtype_size(od)), compact(n * dtype_size(od));
    ExceptionBuffer ex;
    NonFinite nf, nf_compact;
    compute_delta_block(base.data(), bd, post.data(), pd, n, delta.data(), od, 100, &ex, nf);
    compute_delta_block(base.data(), bd, post.data(), pd, n, compact.data(), od, 100, nullptr, nf_compact);
    EXPECT_EQ(delta, compact) << "the exception search must not change the delta";

    std::vector<std::uint64_t> want_index;
    NonFinite want_nf;
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint64_t bb = bits_at(base, bd, i), pb = bits_at(post, pd, i);
      const double b = o.widen(bb, bd), p = o.widen(pb, pd);
      const std::uint64_t want = o.narrow(o.sub(p, b), od);
      const std::uint64_t got = bits_at(delta, od, i);
      if (std::isnan(b) && std::isnan(p)) {
        // Which NaN a NaN - NaN returns is the hardware's choice.
        ASSERT_TRUE(is_nan_bits(got, od)) << "element " << i << " n " << n;
      } else {
        ASSERT_EQ(got, want) << "element " << i << " n " << n << " base " << std::hex << bb << " post " << pb;
      }
      const double d = o.widen(got, od);
      const bool listed = o.narrow(o.add(b, d), pd) != pb || (std::isnan(b) && std::isnan(d));
      if (listed) want_index.push_back(100 + i);
      if (!want_nf.found && (!std::isfinite(b) || !std::isfinite(p))) {
        want_nf.found = true;
        want_nf.index = i;
        want_nf.which = !std::isfinite(b) ? "base" : "post";
      }
    }
    ASSERT_EQ(ex.index, want_index) << "n " << n;
    ASSERT_EQ(ex.base.size(), want_index.size() * dtype_size(bd));
    ASSERT_EQ(ex.post.size(), want_index.size() * dtype_size(pd));
    for (std::size_t k = 0; k < want_index.size(); ++k) {
      const std::size_t i = want_index[k] - 100;
      EXPECT_EQ(
          std::memcmp(ex.base.data() + k * dtype_size(bd), base.data() + i * dtype_size(bd), dtype_size(bd)),
          0);
      EXPECT_EQ(
          std::memcmp(ex.post.data() + k * dtype_size(pd), post.data() + i * dtype_size(pd), dtype_size(pd)),
          0);
    }
    for (const NonFinite* got : {&nf, &nf_compact}) {
      EXPECT_EQ(got->found, want_nf.found) << "n " << n;
      if (want_nf.found) {
        EXPECT_EQ(got->index, want_nf.index);
        EXPECT_STREQ(got->which, want_nf.which);
      }
    }
  }
}

// The listed exceptions are exactly what apply needs: base + delta with the
// exceptions patched in is the post, bit for bit, NaN payloads included.
TEST_P(FusedCompute, ApplyWithTheExceptionsGivesThePostBack) {
  const auto [bd, pd, od] = GetParam();
  const std::size_t n = 4099;
  std::vector<std::byte> base, post;
  make_inputs(bd, pd, od, n, 11, base, post);
  std::vector<std::byte> delta(n * dtype_size(od)), out(n * dtype_size(pd));
  ExceptionBuffer ex;
  NonFinite nf;
  compute_delta_block(base.data(), bd, post.data(), pd, n, delta.data(), od, 0, &ex, nf);
  apply_delta_block(base.data(), bd, delta.data(), od, n, 1.0f, out.data(), pd);
  for (std::size_t k = 0; k < ex.index.size(); ++k) {
    std::memcpy(out.data() + ex.index[k] * dtype_size(pd), ex.post.data() + k * dtype_size(pd),
                dtype_size(pd));
  }
  EXPECT_EQ(out, post);
}

class FusedApply : public ::testing::TestWithParam<std::tuple<DType, DType, DType>> {};

TEST_P(FusedApply, MatchesTheElementwiseDefinitionAndReportsNonFiniteResults) {
  const auto [bd, dd, od] = GetParam();
  const Oracle o = oracle_for(bd, dd, od);
  for (float scale : {1.0f, 0.5f, -1.25f, 3.0f}) {
    for (std::size_t n :
         {std::size_t{1}, std::size_t{15}, std::size_t{64}, std::size_t{1000}, std::size_t{3001}}) {
      std::vector<std::byte> base, delta;
      make_inputs(bd, dd, od, n, n + 17, base, delta);
      std::vector<std::byte> out(n * dtype_size(od));
      const bool flagged = apply_delta_block(base.data(), bd, delta.data(), dd, n, scale, out.data(), od);
      bool any_special = false;
      for (std::size_t i = 0; i < n; ++i) {
        const double b = o.widen(bits_at(base, bd, i), bd);
        const double d = o.mul(scale, o.widen(bits_at(delta, dd, i), dd));
        const std::uint64_t got = bits_at(out, od, i);
        if (std::isnan(b) && std::isnan(d)) {
          ASSERT_TRUE(is_nan_bits(got, od)) << "element " << i;
        } else {
          ASSERT_EQ(got, o.narrow(o.add(b, d), od)) << "element " << i << " n " << n << " scale " << scale;
        }
        any_special |= !element_is_finite(got, od);
      }
      if (any_special) {
        EXPECT_TRUE(flagged) << "n " << n << " scale " << scale;
      }
    }
  }
}

TEST(FusedApply, FiniteResultsAreNotFlaggedOnTheFastPath) {
  for (DType d : {DType::kBF16, DType::kF16, DType::kF32, DType::kF64}) {
    std::vector<double> b(1000), x(1000);
    for (std::size_t i = 0; i < b.size(); ++i) {
      b[i] = 0.01 * static_cast<double>(i % 97) - 0.3;
      x[i] = 0.001 * static_cast<double>(i % 13);
    }
    std::vector<std::byte> bb(b.size() * dtype_size(d)), xb(bb.size()), out(bb.size());
    store_from_f64(b.data(), b.size(), d, bb.data());
    store_from_f64(x.data(), x.size(), d, xb.data());
    EXPECT_FALSE(apply_delta_block(bb.data(), d, xb.data(), d, b.size(), 1.0f, out.data(), d))
        << dtype_name(d);
    // One overflow to infinity is flagged.
    const double huge = d == DType::kF16    ? 60000.0
                        : d == DType::kBF16 ? 3e38
                        : d == DType::kF32  ? 3e38
                                            : 1.7e308;
    const std::uint64_t hb = f64_to_bits(huge, d);
    std::memcpy(bb.data() + 500 * dtype_size(d), &hb, dtype_size(d));
    std::memcpy(xb.data() + 500 * dtype_size(d), &hb, dtype_size(d));
    EXPECT_TRUE(apply_delta_block(bb.data(), d, xb.data(), d, b.size(), 1.0f, out.data(), d))
        << dtype_name(d);
  }
}

std::string combo_name(const ::testing::TestParamInfo<std::tuple<DType, DType, DType>>& info) {
  auto clean = [](DType d) {
    std::string s(dtype_name(d));
    for (char& c : s) c = c == '_' ? 'x' : c;
    return s;
  };
  return clean(std::get<0>(info.param)) + "_" + clean(std::get<1>(info.param)) + "_" +
         clean(std::get<2>(info.param));
}

INSTANTIATE_TEST_SUITE_P(AllFloatCombinations, FusedCompute,
                         ::testing::Combine(::testing::ValuesIn(kFloats), ::testing::ValuesIn(kFloats),
                                            ::testing::ValuesIn(kFloats)),
                         combo_name);
INSTANTIATE_TEST_SUITE_P(AllFloatCombinations, FusedApply,
                         ::testing::Combine(::testing::ValuesIn(kFloats), ::testing::ValuesIn(kFloats),
                                            ::testing::ValuesIn(kFloats)),
                         combo_name);

// The vectorisable F16 rounding against the reference conversion: every
// sign/exponent/top-mantissa pattern with the low bits that decide rounding
// (zero, just below, at and just above the tie of a normal half, and others).
TEST(ElementCodecs, F16NarrowingMatchesTheReferenceConversion) {
  std::size_t checked = 0;
  for (std::uint32_t high = 0; high < 0x10000u; ++high) {
    for (std::uint32_t low : {0x0000u, 0x0001u, 0x0fffu, 0x1000u, 0x1001u, 0x1fffu, 0x2000u, 0x3000u, 0x8000u,
                              0xffffu, 0x7fffu, 0x4000u}) {
      const float v = std::bit_cast<float>((high << 16) | low);
      ASSERT_EQ(codec::F16::narrow(v), fp::f32_to_f16(v)) << std::hex << ((high << 16) | low);
      ++checked;
    }
  }
  EXPECT_EQ(checked, 0x10000u * 12);
}

TEST(ElementCodecs, MarkersFlagExactlyTheNaNsAndInfinities) {
  for (std::uint32_t b = 0; b < 0x10000u; ++b) {
    const auto h = static_cast<std::uint16_t>(b);
    EXPECT_EQ((codec::BF16::marker(h) & codec::BF16::kTop) != 0, !std::isfinite(fp::bf16_to_f32(h))) << b;
    EXPECT_EQ((codec::F16::marker(h) & codec::F16::kTop) != 0, !std::isfinite(fp::f16_to_f32(h))) << b;
  }
  for (std::uint32_t bits : {0x7f800000u, 0xff800000u, 0x7fc00001u, 0x7f7fffffu, 0x00000001u, 0x80000000u}) {
    EXPECT_EQ((codec::F32::marker(bits) & codec::F32::kTop) != 0, !std::isfinite(std::bit_cast<float>(bits)));
  }
  for (std::uint64_t bits : {0x7ff0000000000000ull, 0xfff8000000000000ull, 0x7fefffffffffffffull, 1ull}) {
    EXPECT_EQ((codec::F64::marker(bits) & codec::F64::kTop) != 0,
              !std::isfinite(std::bit_cast<double>(bits)));
  }
}

}  // namespace
}  // namespace paramdelta::engine
