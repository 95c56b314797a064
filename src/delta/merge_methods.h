// combine's TIES and DARE methods (the plain sum stays in combine.cpp, whose
// kernel works on the stored dtypes directly). Values are merged in double:
// each delta element as stored, or its exact difference where the delta
// holds one, and the result is rounded once to the output dtype.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "delta/delta_source.h"
#include "engine/merge_kernels.h"
#include "paramdelta/operations.h"

namespace paramdelta {

// The fraction `density` of n elements that TIES keeps: ⌈density·n⌉, so that
// no tensor loses every element.
std::uint64_t elements_kept(double density, std::uint64_t n);

class MergeMethod {
 public:
  // `weights` has one entry per delta; `workers` is the thread pool's size.
  MergeMethod(const CombineOptions& options, std::vector<double> weights,
              const std::vector<DeltaSource>& deltas, std::size_t tensors, int workers);

  // Before a delta tensor's first chunk. TIES reads every delta's values of
  // the tensor to find which to keep (up to three passes on all threads,
  // dropping the pages behind it as it goes).
  void prepare(std::size_t k, const ManifestTensor& tensor, const std::vector<ExceptionList>& exceptions);
  // Elements [begin, end) of the merged tensor, stored as `out_dtype` in `out`.
  void run(std::size_t k, const ManifestTensor& tensor, const std::vector<ExceptionList>& exceptions,
           std::uint64_t begin, std::uint64_t end, int worker, DType out_dtype, std::byte* out);
  // After the tensor's last chunk.
  void finish(std::size_t k) { cuts_[k].clear(); }

 private:
  // The values of delta i, checked to be finite.
  void read(std::size_t i, const ManifestTensor& tensor, const ExceptionList& exceptions, std::uint64_t begin,
            std::uint64_t end, double* out) const;

  CombineMethod method_;
  double density_;
  std::uint64_t seed_;
  std::vector<double> weights_;
  const std::vector<DeltaSource>& deltas_;
  std::vector<std::vector<engine::MagnitudeCut>> cuts_;   // TIES: per tensor, per delta
  std::vector<std::vector<std::vector<double>>> values_;  // per worker: per delta, and the result
  // TIES's selection runs while the other workers wait for the tensor to be
  // prepared: it gets threads of its own.
  std::unique_ptr<engine::ThreadPool> selection_threads_;
};

}  // namespace paramdelta
