// How each output tensor of apply (and verify) is produced from the new base
// and the delta, decided once before any data is touched.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "delta/delta_source.h"
#include "paramdelta/checkpoint.h"
#include "paramdelta/operations.h"

namespace paramdelta {

struct ApplyItem {
  std::string name;
  const TensorRef* base = nullptr;        // the new base's tensor (may be a tied embedding)
  const ManifestTensor* entry = nullptr;  // the delta's manifest entry, if any
  const TensorRef* delta = nullptr;       // the delta's tensor, if any
  DType out_dtype = DType::kF32;
  std::vector<std::uint64_t> shape;  // output shape
  // Row geometry (rows = first dimension): rows [0, shared_rows) are base + scale·delta;
  // rows [delta_rows, post_rows) are the delta's full values; remaining rows
  // below base_rows are the base's, untouched.
  std::uint64_t row_len = 1;
  std::uint64_t shared_rows = 0;
  std::uint64_t delta_rows = 0;
  std::uint64_t post_rows = 0;
  std::uint64_t base_rows = 0;
  enum class Source { kBase, kDelta, kDeltaValue } source = Source::kBase;
};

struct ApplyPlan {
  std::vector<ApplyItem> items;
  std::optional<std::uint64_t> vocab_rows;  // rows of the output embedding, when it changed
  bool untied_head = false;                 // a head was written for a base that ties it
  std::vector<std::string> notes;
};

// `out_dtype_for(name, base_dtype_or_delta_dtype)` chooses each floating tensor's output dtype.
ApplyPlan plan_apply(const Checkpoint& base, const DeltaSource& delta, VocabMismatch vocab,
                     const std::function<DType(const std::string&, DType)>& out_dtype_for);

}  // namespace paramdelta
