#include "delta/apply_chunk.h"

#include <cstring>

#include "engine/convert.h"
#include "engine/delta_kernels.h"

namespace paramdelta {

namespace {

// One exception element: the stored pair (base, post) is the exact delta. When
// the new base holds exactly the old base value and the scale is 1, the answer
// is exactly the post value; otherwise base' + scale·(post − base) in double.
// Returns whether a patched value is NaN or infinite.
bool patch_exceptions(const ApplyInputs& in, const ApplyItem& item, const ExceptionList& ex,
                      std::uint64_t begin, std::uint64_t end, std::byte* out) {
  if (ex.count == 0) return false;
  bool special = false;
  const DType bd = item.base->info->dtype;
  const DType od = item.out_dtype;
  const std::size_t os = dtype_size(od);
  const std::byte* base = in.base->data(*item.base).data();
  const std::size_t bsz = dtype_size(ex.base_dtype), psz = dtype_size(ex.post_dtype);
  for (std::uint64_t k = ex.lower_bound(begin); k < ex.count; ++k) {
    const std::uint64_t idx = ex.index_at(k);
    if (idx >= end) break;
    std::uint64_t old_base = 0, post = 0;
    std::memcpy(&old_base, ex.base + k * bsz, bsz);
    std::memcpy(&post, ex.post + k * psz, psz);
    const std::uint64_t now = engine::element_bits(base, bd, idx);
    std::uint64_t result;
    if (in.scale == 1.0 && bd == ex.base_dtype && now == old_base) {
      result = od == ex.post_dtype ? post : engine::f64_to_bits(engine::bits_to_f64(post, ex.post_dtype), od);
    } else {
      const double value =
          engine::bits_to_f64(now, bd) + in.scale * (engine::bits_to_f64(post, ex.post_dtype) -
                                                     engine::bits_to_f64(old_base, ex.base_dtype));
      result = engine::f64_to_bits(value, od);
    }
    std::memcpy(out + (idx - begin) * os, &result, os);
    special |= !engine::element_is_finite(result, od);
  }
  return special;
}

}  // namespace

bool produce_apply_range(const ApplyInputs& in, const ApplyItem& item, const ExceptionList& exceptions,
                         std::uint64_t begin, std::uint64_t end, std::byte* out) {
  const DType od = item.out_dtype;
  const std::size_t os = dtype_size(od);
  const PinnedRange base_pin =
      item.base != nullptr ? in.base->pin_elements(*item.base, begin, end) : PinnedRange();
  const PinnedRange delta_pin =
      item.delta != nullptr ? in.delta->tensors().pin_elements(*item.delta, begin, end) : PinnedRange();
  switch (item.source) {
    case ApplyItem::Source::kBase: {
      const std::byte* b = in.base->data(*item.base).data();
      const std::size_t bs = dtype_size(item.base->info->dtype);
      engine::convert_block(b + begin * bs, item.base->info->dtype, static_cast<std::size_t>(end - begin),
                            out, od);
      return true;
    }
    case ApplyItem::Source::kDeltaValue: {
      const std::byte* d = in.delta->tensors().data(*item.delta).data();
      const std::size_t ds = dtype_size(item.delta->info->dtype);
      engine::convert_block(d + begin * ds, item.delta->info->dtype, static_cast<std::size_t>(end - begin),
                            out, od);
      return true;
    }
    case ApplyItem::Source::kDelta:
      break;
  }
  const std::byte* b = in.base->data(*item.base).data();
  const std::byte* d = in.delta->tensors().data(*item.delta).data();
  const DType bd = item.base->info->dtype, dd = item.delta->info->dtype;
  const std::size_t bs = dtype_size(bd), ds = dtype_size(dd);
  const std::uint64_t L = item.row_len == 0 ? 1 : item.row_len;
  std::uint64_t i = begin;
  bool special = false;
  while (i < end) {
    const std::uint64_t row = i / L;
    std::uint64_t run_end;
    std::byte* o = out + (i - begin) * os;
    if (row < item.shared_rows) {
      run_end = std::min(end, item.shared_rows * L);
      special |= engine::apply_delta_block(b + i * bs, bd, d + i * ds, dd,
                                           static_cast<std::size_t>(run_end - i), in.scale, o, od);
      special |= patch_exceptions(in, item, exceptions, i, run_end, o);
    } else if (row >= item.delta_rows && row < item.post_rows) {
      run_end = std::min(end, item.post_rows * L);
      engine::convert_block(d + i * ds, dd, static_cast<std::size_t>(run_end - i), o, od);
      special = true;  // not tracked by plain conversions
    } else {
      run_end = std::min(end, item.base_rows * L);
      engine::convert_block(b + i * bs, bd, static_cast<std::size_t>(run_end - i), o, od);
      special = true;
    }
    i = run_end;
  }
  return special;
}

void release_apply_range(const ApplyInputs& in, const ApplyItem& item, std::uint64_t begin,
                         std::uint64_t end) {
  if (item.base != nullptr) in.base->release_elements(*item.base, begin, end);
  if (item.delta != nullptr) in.delta->tensors().release_elements(*item.delta, begin, end);
}

}  // namespace paramdelta
