// compute in one pass: delta = round(post - base), and for the lossless
// format the check that round(base + delta) gives the post back, per element,
// in registers.
#include <algorithm>

#include "engine/element_codecs.h"
#include "engine/fused_kernels.h"

namespace paramdelta::engine {

namespace {

// Elements per step: the per-element mismatch words of one step stay in L1.
constexpr std::size_t kStep = 1024;

// The first element of a step whose base or post is NaN or infinite (the
// base is named when both are), as the staged kernel reports it.
template <class BC, class PC>
[[gnu::noinline]] void find_first_special(const std::byte* base, const std::byte* post, std::size_t m,
                                          std::size_t start, NonFinite& nf) {
  for (std::size_t i = 0; i < m; ++i) {
    const bool b = BC::special(codec::load<typename BC::Bits>(base, i)) != 0;
    const bool p = PC::special(codec::load<typename PC::Bits>(post, i)) != 0;
    if (b || p) {
      nf.found = true;
      nf.index = start + i;
      nf.which = b ? "base" : "post";
      return;
    }
  }
}

// Records the elements of a step whose mismatch word is non-zero, in order.
// Mismatches are rare (a fraction of a percent): eight bytes of words are
// tested at a time.
template <class BC, class PC>
[[gnu::noinline]] void collect_exceptions(const typename PC::Bits* mismatch, std::size_t m, const std::byte* base,
                                          const std::byte* post, std::uint64_t first_index, ExceptionBuffer& out) {
  using PB = typename PC::Bits;
  constexpr std::size_t kPerWord = 8 / sizeof(PB);
  constexpr std::size_t bs = sizeof(typename BC::Bits), ps = sizeof(PB);
  for (std::size_t i = 0; i < m; i += kPerWord) {
    const std::size_t k = std::min(kPerWord, m - i);
    std::uint64_t word = 0;
    std::memcpy(&word, mismatch + i, k * sizeof(PB));
    if (word == 0) continue;
    for (std::size_t j = i; j < i + k; ++j) {
      if (mismatch[j] == 0) continue;
      out.index.push_back(first_index + j);
      out.base.insert(out.base.end(), base + j * bs, base + (j + 1) * bs);
      out.post.insert(out.post.end(), post + j * ps, post + (j + 1) * ps);
    }
  }
}

// kExact: also find the elements the stored delta cannot reproduce. An
// element whose base and delta are both NaN is always listed: which of the two
// NaNs base + delta returns depends on the order the compiler gives the
// operands, so apply could not be trusted to give the post's NaN back.
template <class BC, class PC, class OC, bool kExact>
PARAMDELTA_MULTIVERSION void compute_fused_loop(const std::byte* base, const std::byte* post, std::size_t n,
                                                std::byte* out, std::uint64_t first_index, ExceptionBuffer* exceptions,
                                                NonFinite& nf) {
  using W = typename OC::Wide;
  using BB = typename BC::Bits;
  using PB = typename PC::Bits;
  PB mismatch[kStep];
  for (std::size_t start = 0; start < n; start += kStep) {
    const std::size_t m = std::min(kStep, n - start);
    const std::byte* bp = base + start * sizeof(BB);
    const std::byte* pp = post + start * sizeof(PB);
    std::byte* op = out + start * sizeof(typename OC::Bits);
    PB special = 0, any = 0;
    for (std::size_t i = 0; i < m; ++i) {
      const BB bb = codec::load<BB>(bp, i);
      const PB pb = codec::load<PB>(pp, i);
      const W b = BC::widen(bb);
      const auto ob = OC::narrow(PC::widen(pb) - b);
      codec::store(op, i, ob);
      special |= static_cast<PB>(BC::special(bb) | PC::special(pb));
      if constexpr (kExact) {
        const W d = OC::widen(ob);
        const PB x = static_cast<PB>((PC::narrow(b + d) ^ pb) | (codec::is_nan(b) & codec::is_nan(d)));
        mismatch[i] = x;
        any |= x;
      }
    }
    if (special != 0 && !nf.found) find_first_special<BC, PC>(bp, pp, m, start, nf);
    if constexpr (kExact) {
      if (any != 0) collect_exceptions<BC, PC>(mismatch, m, bp, pp, first_index + start, *exceptions);
    }
  }
}

using ComputeLoop = void (*)(const std::byte*, const std::byte*, std::size_t, std::byte*, std::uint64_t,
                             ExceptionBuffer*, NonFinite&);

template <class BC, class PC, class OC>
ComputeLoop loop_for(bool exact) {
  return exact ? &compute_fused_loop<BC, PC, OC, true> : &compute_fused_loop<BC, PC, OC, false>;
}

ComputeLoop select_loop(DType bd, DType pd, DType od, bool exact) {
  if (bd == DType::kF64 && pd == DType::kF64 && od == DType::kF64) {
    return loop_for<codec::F64, codec::F64, codec::F64>(exact);
  }
  ComputeLoop loop = nullptr;
  codec::with_float32_codec(bd, [&](auto b) {
    codec::with_float32_codec(pd, [&](auto p) {
      codec::with_float32_codec(od, [&](auto o) { loop = loop_for<decltype(b), decltype(p), decltype(o)>(exact); });
    });
  });
  return loop;
}

}  // namespace

bool fused_compute(const std::byte* base, DType base_dtype, const std::byte* post, DType post_dtype, std::size_t n,
                   std::byte* out, DType out_dtype, std::uint64_t first_index, ExceptionBuffer* exceptions,
                   NonFinite& non_finite) {
  const ComputeLoop loop = select_loop(base_dtype, post_dtype, out_dtype, exceptions != nullptr);
  if (loop == nullptr) return false;
  loop(base, post, n, out, first_index, exceptions, non_finite);
  return true;
}

}  // namespace paramdelta::engine
