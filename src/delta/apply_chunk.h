// Produces a range of one output tensor of apply: base + scale·delta with the
// exact exception values patched in, full values, or base values.
#pragma once

#include <cstdint>
#include <span>

#include "delta/apply_plan.h"

namespace paramdelta {

struct ApplyInputs {
  const Checkpoint* base = nullptr;
  const DeltaSource* delta = nullptr;
  double scale = 1.0;
};

// Fills `out` (end - begin elements of item.out_dtype). Returns false when
// no element of it is NaN or infinite, true when one may be.
bool produce_apply_range(const ApplyInputs& in, const ApplyItem& item, const ExceptionList& exceptions,
                         std::uint64_t begin, std::uint64_t end, std::byte* out);

// Drops the input pages of [begin, end) from the resident set.
void release_apply_range(const ApplyInputs& in, const ApplyItem& item, std::uint64_t begin,
                         std::uint64_t end);

}  // namespace paramdelta
