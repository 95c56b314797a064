// apply in one pass: out = round(base + scale * delta), noting on the way
// whether any result is NaN or infinite (so that the caller scans the block
// for the position only when one is).
#include <optional>

#include "engine/element_codecs.h"
#include "engine/fused_kernels.h"

namespace paramdelta::engine {

namespace {

template <class BC, class DC, class OC>
PARAMDELTA_MULTIVERSION bool apply_fused_loop(const std::byte* base, const std::byte* delta, std::size_t n,
                                              typename OC::Wide scale, std::byte* out) {
  using BB = typename BC::Bits;
  using DB = typename DC::Bits;
  using OB = typename OC::Bits;
  OB special = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const auto r = BC::widen(codec::load<BB>(base, i)) + scale * DC::widen(codec::load<DB>(delta, i));
    const OB ob = OC::narrow(r);
    codec::store(out, i, ob);
    special |= OC::marker(ob);
  }
  return (special & OC::kTop) != 0;
}

}  // namespace

std::optional<bool> fused_apply(const std::byte* base, DType base_dtype, const std::byte* delta,
                                DType delta_dtype, std::size_t n, double scale, std::byte* out,
                                DType out_dtype) {
  if (base_dtype == DType::kF64 && delta_dtype == DType::kF64 && out_dtype == DType::kF64) {
    return apply_fused_loop<codec::F64, codec::F64, codec::F64>(base, delta, n, scale, out);
  }
  std::optional<bool> special;
  codec::with_float32_codec(base_dtype, [&](auto b) {
    codec::with_float32_codec(delta_dtype, [&](auto d) {
      codec::with_float32_codec(out_dtype, [&](auto o) {
        special = apply_fused_loop<decltype(b), decltype(d), decltype(o)>(base, delta, n,
                                                                          static_cast<float>(scale), out);
      });
    });
  });
  return special;
}

}  // namespace paramdelta::engine
