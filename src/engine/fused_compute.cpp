// compute in one pass: delta = round(post - base), and for the lossless
// format the check that round(base + delta) gives the post back, per element,
// in registers.
#include <algorithm>

#include "engine/element_codecs.h"
#include "engine/fused_kernels.h"

namespace paramdelta::engine {

namespace {

// Elements per block: the unit in which the loop below looks for elements
// that need attention. Exceptions run at a fraction of a percent of the
// elements, so most 64-element blocks have none and are never looked at twice;
// a constant trip count also lets the compiler unroll the vector loop fully.
constexpr std::size_t kBlock = 64;

// The first element of a block whose base or post is NaN or infinite (the
// base is named when both are), as the staged kernel reports it.
template <class BC, class PC>
void find_first_special(const std::byte* base, const std::byte* post, std::size_t m, std::size_t start,
                        NonFinite& nf) {
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

// Records the elements of a block whose mismatch word is non-zero, in order:
// counted first, so that each list grows once per block, not per element.
template <class BC, class PC>
[[gnu::noinline]] void collect_exceptions(const typename PC::Bits* mismatch, std::size_t m,
                                          const std::byte* base, const std::byte* post,
                                          std::uint64_t first_index, ExceptionBuffer& out) {
  constexpr std::size_t bs = sizeof(typename BC::Bits), ps = sizeof(typename PC::Bits);
  std::size_t count = 0;
  for (std::size_t j = 0; j < m; ++j) count += mismatch[j] != 0;
  std::size_t k = out.index.size();
  out.index.resize(k + count);
  out.base.resize((k + count) * bs);
  out.post.resize((k + count) * ps);
  // Eight bytes of mismatch words at a time: most are zero.
  constexpr std::size_t kPerWord = 8 / ps;
  for (std::size_t i = 0; i < m; i += kPerWord) {
    const std::size_t end = std::min(m, i + kPerWord);
    std::uint64_t word = 0;
    std::memcpy(&word, mismatch + i, (end - i) * ps);
    if (word == 0) continue;
    for (std::size_t j = i; j < end; ++j) {
      if (mismatch[j] == 0) continue;
      out.index[k] = first_index + j;
      std::memcpy(out.base.data() + k * bs, base + j * bs, bs);
      std::memcpy(out.post.data() + k * ps, post + j * ps, ps);
      ++k;
    }
  }
}

// Whether the stored delta `ob` fails to reproduce the post value `pb` from
// the base value `b` (non-zero if so).
template <class PC, class OC>
[[gnu::always_inline]] inline typename PC::Bits reconstruction_differs(typename OC::Wide b,
                                                                       typename OC::Bits ob,
                                                                       typename PC::Bits pb) {
  return static_cast<typename PC::Bits>(PC::narrow(b + OC::widen(ob)) ^ pb);
}

// A block with a NaN or an infinity in its base or post: reports the first
// one, and redoes the mismatch test with one more rule. An element whose base
// and delta are both NaN is always an exception: which of the two NaNs
// base + delta yields depends on the order the compiler gives the operands,
// so apply could not be trusted to give the post's NaN back.
template <class BC, class PC, class OC, bool kExact>
[[gnu::noinline]] void special_block(const std::byte* bp, const std::byte* pp, const std::byte* op,
                                     std::size_t m, std::size_t start, typename PC::Bits* mismatch,
                                     NonFinite& nf) {
  if (!nf.found) find_first_special<BC, PC>(bp, pp, m, start, nf);
  if constexpr (kExact) {
    for (std::size_t i = 0; i < m; ++i) {
      const auto b = BC::widen(codec::load<typename BC::Bits>(bp, i));
      const auto ob = codec::load<typename OC::Bits>(op, i);
      const auto pb = codec::load<typename PC::Bits>(pp, i);
      const bool nan_pair = codec::is_nan(b) && codec::is_nan(OC::widen(ob));
      mismatch[i] = static_cast<typename PC::Bits>(reconstruction_differs<PC, OC>(b, ob, pb) | nan_pair);
    }
  }
}

// Computes m elements; kExact: also marks in `mismatch` the elements the
// stored delta cannot reproduce (NaNs aside: see special_block); otherwise
// gathers the markers of the stored deltas, which show a delta beyond the
// output dtype's range (the exact form keeps such an element as an exception).
template <class BC, class PC, class OC, bool kExact>
[[gnu::always_inline]] inline void compute_elements(const std::byte* bp, const std::byte* pp, std::byte* op,
                                                    std::size_t m, typename PC::Bits* mismatch,
                                                    typename BC::Bits& base_marks,
                                                    typename PC::Bits& post_marks,
                                                    typename OC::Bits& out_marks, typename PC::Bits& any) {
  using BB = typename BC::Bits;
  using PB = typename PC::Bits;
  for (std::size_t i = 0; i < m; ++i) {
    const BB bb = codec::load<BB>(bp, i);
    const PB pb = codec::load<PB>(pp, i);
    const typename OC::Wide b = BC::widen(bb);
    const auto ob = OC::narrow(PC::widen(pb) - b);
    codec::store(op, i, ob);
    base_marks |= BC::marker(bb);
    post_marks |= PC::marker(pb);
    if constexpr (kExact) {
      const PB x = reconstruction_differs<PC, OC>(b, ob, pb);
      mismatch[i] = x;
      any |= x;
    } else {
      out_marks |= OC::marker(ob);
    }
  }
}

// A block whose stored deltas include NaN or infinity: the first one whose
// base and post are finite overflowed the output dtype.
template <class BC, class PC, class OC>
[[gnu::noinline]] void find_block_overflow(const std::byte* bp, const std::byte* pp, const std::byte* op,
                                           std::size_t m, std::size_t start, NonFinite& overflow) {
  overflow = find_overflow(op, OC::kDType, m, bp, BC::kDType, pp, PC::kDType, "delta");
  overflow.index += start;
}

template <class BC, class PC, class OC, bool kExact>
PARAMDELTA_MULTIVERSION void compute_fused_loop(const std::byte* base, const std::byte* post, std::size_t n,
                                                std::byte* out, std::uint64_t first_index,
                                                ExceptionBuffer* exceptions, NonFinite& nf,
                                                NonFinite* overflow) {
  using BB = typename BC::Bits;
  using PB = typename PC::Bits;
  using OB = typename OC::Bits;
  constexpr std::size_t bs = sizeof(BB), ps = sizeof(PB), os = sizeof(OB);
  PB mismatch[kBlock];
  for (std::size_t start = 0; start < n; start += kBlock) {
    const std::size_t m = std::min(kBlock, n - start);
    const std::byte* bp = base + start * bs;
    const std::byte* pp = post + start * ps;
    std::byte* op = out + start * os;
    BB base_marks = 0;
    PB post_marks = 0, any = 0;
    OB out_marks = 0;
    // Full blocks with a constant length, then the rest.
    if (m == kBlock) {
      compute_elements<BC, PC, OC, kExact>(bp, pp, op, kBlock, mismatch, base_marks, post_marks, out_marks,
                                           any);
    } else {
      compute_elements<BC, PC, OC, kExact>(bp, pp, op, m, mismatch, base_marks, post_marks, out_marks, any);
    }
    if (((base_marks & BC::kTop) | (post_marks & PC::kTop)) != 0) {
      special_block<BC, PC, OC, kExact>(bp, pp, op, m, start, mismatch, nf);
      any = 1;
    }
    if constexpr (kExact) {
      if (any != 0) collect_exceptions<BC, PC>(mismatch, m, bp, pp, first_index + start, *exceptions);
    } else {
      if ((out_marks & OC::kTop) != 0 && overflow != nullptr && !overflow->found) {
        find_block_overflow<BC, PC, OC>(bp, pp, op, m, start, *overflow);
      }
    }
  }
}

using ComputeLoop = void (*)(const std::byte*, const std::byte*, std::size_t, std::byte*, std::uint64_t,
                             ExceptionBuffer*, NonFinite&, NonFinite*);

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
      codec::with_float32_codec(
          od, [&](auto o) { loop = loop_for<decltype(b), decltype(p), decltype(o)>(exact); });
    });
  });
  return loop;
}

}  // namespace

bool fused_compute(const std::byte* base, DType base_dtype, const std::byte* post, DType post_dtype,
                   std::size_t n, std::byte* out, DType out_dtype, std::uint64_t first_index,
                   ExceptionBuffer* exceptions, NonFinite& non_finite, NonFinite* overflow) {
  const ComputeLoop loop = select_loop(base_dtype, post_dtype, out_dtype, exceptions != nullptr);
  if (loop == nullptr) return false;
  loop(base, post, n, out, first_index, exceptions, non_finite, overflow);
  return true;
}

}  // namespace paramdelta::engine
