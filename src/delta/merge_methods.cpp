#include "delta/merge_methods.h"

#include <algorithm>
#include <cmath>

#include "engine/convert.h"
#include "paramdelta/error.h"

namespace paramdelta {

std::string combine_method_name(CombineMethod method) {
  switch (method) {
    case CombineMethod::kSum:
      return "sum";
    case CombineMethod::kTies:
      return "ties";
    case CombineMethod::kDare:
      return "dare";
    case CombineMethod::kDareTies:
      return "dare-ties";
  }
  return "sum";
}

std::optional<CombineMethod> parse_combine_method(const std::string& name) {
  for (CombineMethod m :
       {CombineMethod::kSum, CombineMethod::kTies, CombineMethod::kDare, CombineMethod::kDareTies}) {
    if (combine_method_name(m) == name) return m;
  }
  return std::nullopt;
}

namespace {
// Elements whose mapped pages the selection drops at once (a multiple of its
// blocks of 2^16).
constexpr std::uint64_t kReleaseSpan = std::uint64_t{1} << 20;
// Elements merged at a time: the inputs' and the result's doubles together
// stay in a core's L2 cache.
constexpr std::uint64_t kTile = 4096;
}  // namespace

std::uint64_t elements_kept(double density, std::uint64_t n) {
  const double kept = std::ceil(density * static_cast<double>(n));
  return kept >= static_cast<double>(n) ? n : static_cast<std::uint64_t>(kept);
}

MergeMethod::MergeMethod(const CombineOptions& options, std::vector<double> weights,
                         const std::vector<DeltaSource>& deltas, std::size_t tensors, int workers)
    : method_(options.method),
      density_(options.density),
      seed_(options.seed),
      weights_(std::move(weights)),
      deltas_(deltas),
      cuts_(tensors),
      values_(static_cast<std::size_t>(std::max(workers, 1)),
              std::vector<std::vector<double>>(deltas.size())) {
  if (method_ == CombineMethod::kTies && workers > 1)
    selection_threads_ = std::make_unique<engine::ThreadPool>(workers);
}

void MergeMethod::read(std::size_t i, const ManifestTensor& tensor, const ExceptionList& exceptions,
                       std::uint64_t begin, std::uint64_t end, double* out) const {
  const DeltaSource& delta = deltas_[i];
  read_delta_values(delta, *delta.tensors().find(tensor.name), exceptions, begin, end, out);
  const std::size_t n = static_cast<std::size_t>(end - begin);
  if (const std::size_t e = engine::find_non_finite(out, n); e < n) {
    throw Error(ErrorKind::kNonFinite,
                "element " + std::to_string(begin + e) + " of the delta is not finite (" +
                    std::to_string(out[e]) + ")",
                ErrorContext{delta.path().string(), tensor.name, {}},
                "the " + combine_method_name(method_) +
                    " method ranks and compares values; combine such deltas with " +
                    option_ref("method", "sum"));
  }
}

void MergeMethod::prepare(std::size_t k, const ManifestTensor& tensor,
                          const std::vector<ExceptionList>& exceptions) {
  cuts_[k].clear();
  if (method_ != CombineMethod::kTies) return;
  std::uint64_t n = 1;
  for (auto d : tensor.shape) n *= d;
  const std::uint64_t keep = elements_kept(density_, n);
  for (std::size_t i = 0; i < deltas_.size(); ++i) {
    const TensorRef& ref = *deltas_[i].tensors().find(tensor.name);
    // Unchecked: a non-finite value is reported when its chunk is merged.
    cuts_[k].push_back(engine::find_magnitude_cut(
        n, keep,
        [&](std::uint64_t begin, std::uint64_t end, double* out) {
          read_delta_values(deltas_[i], ref, exceptions[i], begin, end, out);
          // Pages are dropped a span at a time: per block, the unmapping's
          // cross-thread TLB flushes cost as much as the reading.
          if (end % kReleaseSpan == 0 || end == n)
            deltas_[i].tensors().release_elements(ref, (end - 1) / kReleaseSpan * kReleaseSpan, end);
        },
        selection_threads_.get()));
  }
}

void MergeMethod::run(std::size_t k, const ManifestTensor& tensor,
                      const std::vector<ExceptionList>& exceptions, std::uint64_t begin, std::uint64_t end,
                      int worker, DType out_dtype, std::byte* out) {
  auto& buffers = values_[static_cast<std::size_t>(worker)];  // one per delta, then the merged values
  buffers.resize(deltas_.size() + 1);
  for (auto& b : buffers) b.resize(kTile);
  std::vector<const double*> inputs;
  std::vector<engine::DropMask> drops;
  for (std::size_t i = 0; i < deltas_.size(); ++i) {
    inputs.push_back(buffers[i].data());
    if (method_ != CombineMethod::kTies) drops.emplace_back(seed_, i, tensor.name, density_);
  }
  double* merged = buffers.back().data();
  // Tile by tile, so that every stage finds its values in the cache.
  for (std::uint64_t t0 = begin; t0 < end; t0 += kTile) {
    const std::uint64_t t1 = std::min(end, t0 + kTile);
    const std::size_t n = static_cast<std::size_t>(t1 - t0);
    for (std::size_t i = 0; i < deltas_.size(); ++i) {
      double* v = buffers[i].data();
      read(i, tensor, exceptions[i], t0, t1, v);
      if (method_ == CombineMethod::kTies) {
        engine::apply_magnitude_cut(cuts_[k][i], t0, n, v);
      } else {
        engine::apply_drop_mask(drops[i], density_, t0, n, v);
      }
    }
    if (method_ == CombineMethod::kDare) {
      engine::merge_weighted_sum(inputs.data(), weights_.data(), inputs.size(), n, merged);
    } else {
      engine::merge_sign_consensus(inputs.data(), weights_.data(), inputs.size(), n, merged);
    }
    engine::store_from_f64(merged, n, out_dtype, out + (t0 - begin) * dtype_size(out_dtype));
  }
}

}  // namespace paramdelta
