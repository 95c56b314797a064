// ParamΔ's arithmetic on tensors in memory: the kernels of compute, apply and
// combine over caller-owned buffers, cut into chunks over a thread pool.
#include <algorithm>
#include <vector>

#include "delta/operation_support.h"
#include "engine/convert.h"
#include "engine/delta_kernels.h"
#include "engine/thread_pool.h"
#include "paramdelta/error.h"
#include "paramdelta/tensors.h"

namespace paramdelta {

namespace {

// Elements per chunk: large enough for the kernels to run at memory speed,
// small enough that every thread gets work on mid-sized tensors.
constexpr std::uint64_t kChunkElements = std::uint64_t{1} << 18;

std::uint64_t element_count(const std::vector<std::uint64_t>& shape) {
  std::uint64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

void require_floating(const std::string& tensor, DType dtype, const char* role) {
  if (!is_floating(dtype)) {
    throw Error(
        ErrorKind::kMismatch,
        std::string("the ") + role + " is " + std::string(dtype_name(dtype)) + ", not a floating-point type",
        ErrorContext{{}, tensor, {}}, "deltas are taken and applied on floating-point tensors only");
  }
}

void require_same_shape(const std::string& tensor, const std::vector<std::uint64_t>& a, const char* a_role,
                        const std::vector<std::uint64_t>& b, const char* b_role, const char* hint) {
  if (a != b) {
    throw Error(ErrorKind::kMismatch,
                std::string("shape mismatch: ") + a_role + " " + shape_string(a) + " vs " + b_role + " " +
                    shape_string(b),
                ErrorContext{{}, tensor, {}}, hint);
  }
}

// Runs fn(begin, end) over the chunks of n elements, on `threads` threads
// when there is more than one chunk; stops between chunks when cancelled.
template <class Fn>
void for_each_chunk(std::uint64_t n, const TensorMathOptions& options, Fn fn) {
  const std::size_t chunks = static_cast<std::size_t>((n + kChunkElements - 1) / kChunkElements);
  auto run = [&](std::size_t c, int) {
    if (options.cancel != nullptr && options.cancel->load(std::memory_order_relaxed)) {
      throw Error(ErrorKind::kCancelled, "cancelled");
    }
    const std::uint64_t begin = c * kChunkElements;
    fn(begin, std::min(n, begin + kChunkElements));
  };
  if (chunks <= 1) {
    for (std::size_t c = 0; c < chunks; ++c) run(c, 0);
    return;
  }
  engine::ThreadPool pool(std::min(engine::resolve_thread_count(options.threads), static_cast<int>(chunks)));
  pool.parallel_for(chunks, run);
}

void check_result_finite(const std::string& tensor, const std::byte* out, DType dtype, std::uint64_t begin,
                         std::uint64_t end, const char* what, const std::string& hint) {
  const auto nf = engine::find_non_finite(out, dtype, static_cast<std::size_t>(end - begin), "result");
  if (nf.found) {
    throw Error(ErrorKind::kNonFinite,
                "element " + std::to_string(begin + nf.index) + " of the " + what + " is NaN or infinite",
                ErrorContext{{}, tensor, {}}, hint);
  }
}

}  // namespace

DType delta_dtype_for(DType post) { return lossless_delta_dtype(post); }

void compute_delta_tensor(const std::string& tensor, const ConstTensor& base, const ConstTensor& post,
                          const MutableTensor& delta, const TensorMathOptions& options) {
  require_floating(tensor, base.dtype, "base");
  require_floating(tensor, post.dtype, "post");
  require_floating(tensor, delta.dtype, "delta");
  require_same_shape(tensor, base.shape, "base", post.shape, "post",
                     "the two models have different architectures; a delta needs identical shapes");
  require_same_shape(tensor, delta.shape, "delta", post.shape, "post",
                     "the output must have the post's shape");
  const std::size_t bs = dtype_size(base.dtype), ps = dtype_size(post.dtype), ds = dtype_size(delta.dtype);
  for_each_chunk(element_count(post.shape), options, [&](std::uint64_t begin, std::uint64_t end) {
    engine::NonFinite nf, overflow;
    engine::compute_delta_block(base.data + begin * bs, base.dtype, post.data + begin * ps, post.dtype,
                                static_cast<std::size_t>(end - begin), delta.data + begin * ds, delta.dtype,
                                begin, nullptr, nf, &overflow);
    if (nf.found && !options.allow_non_finite) {
      throw_non_finite(
          tensor, nf, begin + nf.index,
          "fix the model, or pass " + option_ref("allow_non_finite", "true") + " to carry such values");
    }
    if (overflow.found) {
      const std::size_t i = overflow.index;
      const std::uint64_t at = begin + i;
      throw_delta_overflow(
          tensor, at, engine::bits_to_f64(engine::element_bits(base.data, base.dtype, at), base.dtype),
          engine::bits_to_f64(engine::element_bits(post.data, post.dtype, at), post.dtype), delta.dtype,
          "compute the delta in a wider dtype (float32 arrays), or use paramdelta.compute's lossless delta");
    }
  });
}

void apply_delta_tensor(const std::string& tensor, const ConstTensor& base, const ConstTensor& delta,
                        double scale, const MutableTensor& out, const TensorMathOptions& options) {
  require_floating(tensor, base.dtype, "base");
  require_floating(tensor, delta.dtype, "delta");
  require_floating(tensor, out.dtype, "output");
  require_same_shape(tensor, base.shape, "new base", delta.shape, "delta",
                     "the delta was computed for a different architecture");
  require_same_shape(tensor, out.shape, "output", base.shape, "base",
                     "the output must have the base's shape");
  const std::size_t bs = dtype_size(base.dtype), ds = dtype_size(delta.dtype), os = dtype_size(out.dtype);
  for_each_chunk(element_count(base.shape), options, [&](std::uint64_t begin, std::uint64_t end) {
    std::byte* o = out.data + begin * os;
    const bool special =
        engine::apply_delta_block(base.data + begin * bs, base.dtype, delta.data + begin * ds, delta.dtype,
                                  static_cast<std::size_t>(end - begin), scale, o, out.dtype);
    if (special && !options.allow_non_finite) {
      check_result_finite(tensor, o, out.dtype, begin, end, "result",
                          "lower " + option_ref("scale") + ", choose a wider dtype, or pass " +
                              option_ref("allow_non_finite", "true"));
    }
  });
}

void combine_delta_tensors(const std::string& tensor, const std::vector<ConstTensor>& deltas,
                           const std::vector<double>& weights, const MutableTensor& out,
                           const TensorMathOptions& options) {
  if (deltas.empty() || weights.size() != deltas.size()) {
    throw Error(ErrorKind::kUsage,
                "combine needs one weight per delta (" + std::to_string(deltas.size()) + " deltas, " +
                    std::to_string(weights.size()) + " weights)",
                ErrorContext{{}, tensor, {}});
  }
  require_floating(tensor, out.dtype, "output");
  for (const auto& d : deltas) {
    require_floating(tensor, d.dtype, "delta");
    require_same_shape(tensor, d.shape, "delta", deltas[0].shape, "first delta",
                       "deltas combine only over the same tensors");
  }
  require_same_shape(tensor, out.shape, "output", deltas[0].shape, "delta",
                     "the output must have the deltas' shape");
  const std::size_t os = dtype_size(out.dtype);
  for_each_chunk(element_count(out.shape), options, [&](std::uint64_t begin, std::uint64_t end) {
    const std::size_t n = static_cast<std::size_t>(end - begin);
    std::vector<float> acc(n, 0.0f);
    for (std::size_t i = 0; i < deltas.size(); ++i) {
      engine::accumulate_block(deltas[i].data + begin * dtype_size(deltas[i].dtype), deltas[i].dtype, n,
                               static_cast<float>(weights[i]), acc.data());
    }
    std::byte* o = out.data + begin * os;
    engine::store_from_f32(acc.data(), n, out.dtype, o);
    if (!options.allow_non_finite) {
      check_result_finite(tensor, o, out.dtype, begin, end, "combined delta",
                          "check the weights and the input deltas");
    }
  });
}

}  // namespace paramdelta
