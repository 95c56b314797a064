#include "delta/apply_plan.h"

#include <set>

#include "delta/model_files.h"
#include "delta/operation_support.h"
#include "paramdelta/error.h"

namespace paramdelta {

namespace {

std::uint64_t rows_of(const std::vector<std::uint64_t>& shape) { return shape.empty() ? 1 : shape[0]; }
std::uint64_t row_len_of(const std::vector<std::uint64_t>& shape) {
  std::uint64_t n = 1;
  for (std::size_t i = 1; i < shape.size(); ++i) n *= shape[i];
  return n;
}
bool same_tail(const std::vector<std::uint64_t>& a, const std::vector<std::uint64_t>& b) {
  return a.size() == b.size() && !a.empty() && std::equal(a.begin() + 1, a.end(), b.begin() + 1);
}

void set_geometry(ApplyItem& item, const std::vector<std::uint64_t>& base_shape, const ManifestTensor& e,
                  VocabMismatch vocab) {
  const auto& post_shape = e.shape;
  item.row_len = row_len_of(post_shape);
  item.post_rows = rows_of(post_shape);
  item.delta_rows = e.delta_rows.value_or(item.post_rows);
  if (base_shape == post_shape && !e.delta_rows) {
    item.base_rows = item.post_rows;
    item.shared_rows = item.post_rows;
    item.shape = post_shape;
    return;
  }
  const bool vocab_tensor = is_vocabulary_tensor(item.name) && same_tail(base_shape, post_shape);
  if (!vocab_tensor) {
    throw Error(
        ErrorKind::kMismatch,
        "shape mismatch: new base " + shape_string(base_shape) + " vs delta " + shape_string(post_shape),
        ErrorContext{{}, item.name, {}}, "the delta was computed for a different architecture");
  }
  item.base_rows = rows_of(base_shape);
  if (item.base_rows != item.post_rows && !e.delta_rows && vocab == VocabMismatch::kError) {
    throw Error(ErrorKind::kMismatch,
                "vocabulary size differs: new base has " + std::to_string(item.base_rows) +
                    " rows, delta has " + std::to_string(item.post_rows),
                ErrorContext{{}, item.name, {}},
                "pass " + option_ref("vocab_mismatch", "overlap") + " to apply the delta to the shared rows");
  }
  if (item.delta_rows > item.base_rows && item.delta_rows > 0) {
    throw Error(ErrorKind::kMismatch,
                "the delta holds differences for rows up to " + std::to_string(item.delta_rows) +
                    " but the new base has only " + std::to_string(item.base_rows),
                ErrorContext{{}, item.name, {}}, "those rows have no value to add the delta to");
  }
  item.shared_rows = std::min(item.base_rows, item.delta_rows);
  std::vector<std::uint64_t> shape = post_shape;
  shape[0] = std::max(item.base_rows, item.post_rows);
  item.shape = shape;
}

}  // namespace

ApplyPlan plan_apply(const Checkpoint& base, const DeltaSource& delta, VocabMismatch vocab,
                     const std::function<DType(const std::string&, DType)>& out_dtype_for) {
  ApplyPlan plan;
  plan.notes = delta.notes();
  const Manifest& m = delta.manifest();
  const std::set<std::string> removed(m.removed_tensors.begin(), m.removed_tensors.end());
  std::set<std::string> handled;
  std::uint64_t copied = 0;

  for (const auto& b : base.tensors()) {
    if (removed.count(b.name())) {
      plan.notes.push_back("'" + b.name() + "' is absent from the post model: omitted from the output");
      continue;
    }
    ApplyItem item;
    item.name = b.name();
    item.base = &b;
    item.entry = m.find(b.name());
    const DType bd = b.info->dtype;
    item.out_dtype = is_floating(bd) ? out_dtype_for(b.name(), bd) : bd;
    item.shape = b.info->shape;
    item.row_len = row_len_of(b.info->shape);
    item.base_rows = item.shared_rows = rows_of(b.info->shape);
    if (item.entry == nullptr) {
      ++copied;
    } else {
      handled.insert(b.name());
      item.delta = delta.tensors().find(b.name());
      switch (item.entry->kind) {
        case TensorKind::kCarry:
          break;  // integer/bool tensors: the new base's are kept
        case TensorKind::kFull:
          item.source = ApplyItem::Source::kDeltaValue;
          item.shape = item.entry->shape;
          item.out_dtype = out_dtype_for(b.name(), item.entry->dtype);
          plan.notes.push_back("'" + b.name() +
                               "' is a post-only tensor in the delta: its value replaces the new base's");
          break;
        case TensorKind::kDelta:
          if (!is_floating(bd)) {
            throw Error(ErrorKind::kMismatch,
                        std::string("the new base stores it as ") + std::string(dtype_name(bd)) +
                            ", which cannot take a floating-point delta",
                        ErrorContext{{}, b.name(), {}});
          }
          item.source = ApplyItem::Source::kDelta;
          set_geometry(item, b.info->shape, *item.entry, vocab);
          if (item.shape != b.info->shape && is_vocabulary_tensor(b.name())) plan.vocab_rows = item.shape[0];
          break;
      }
    }
    plan.items.push_back(item);
  }
  // Delta tensors the new base lacks: a head tied to the embedding in the new
  // base, or a post-only tensor.
  for (const auto& e : m.tensors) {
    if (handled.count(e.name)) continue;
    ApplyItem item;
    item.name = e.name;
    item.entry = &e;
    item.delta = delta.tensors().find(e.name);
    if (e.kind == TensorKind::kDelta) {
      const TensorRef* tied = nullptr;
      for (const auto& pair : tied_pairs()) {
        if (e.name == pair.head) tied = base.find(pair.embedding);
        if (tied) break;
      }
      if (tied == nullptr) {
        throw Error(ErrorKind::kMismatch, "the delta changes this tensor but the new base does not have it",
                    ErrorContext{{}, e.name, {}}, "the delta was computed for a different architecture");
      }
      item.base = tied;
      item.source = ApplyItem::Source::kDelta;
      item.out_dtype = out_dtype_for(e.name, tied->info->dtype);
      set_geometry(item, tied->info->shape, e, vocab);
      plan.untied_head = true;
      plan.notes.push_back("new base ties '" + e.name + "' to '" + tied->name() +
                           "': the output gets its own '" + e.name + "' (embedding + delta)");
    } else {
      item.source = ApplyItem::Source::kDeltaValue;
      item.shape = e.shape;
      item.out_dtype = e.kind == TensorKind::kFull ? out_dtype_for(e.name, e.dtype) : e.dtype;
      item.row_len = row_len_of(e.shape);
      plan.notes.push_back("'" + e.name + "' exists only in the delta: written from the delta");
    }
    plan.items.push_back(item);
  }
  if (copied > 0) {
    plan.notes.push_back(std::to_string(copied) +
                         " tensor(s) of the new base are not in the delta and were copied unchanged");
  }
  return plan;
}

}  // namespace paramdelta
