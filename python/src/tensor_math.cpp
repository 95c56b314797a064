// ParamΔ's arithmetic on tensors in memory, for the compatibility layer's
// state dicts: the library's kernels over NumPy buffers, the GIL released.
#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <string>
#include <tuple>
#include <vector>

#include "background_run.h"
#include "bindings.h"
#include "paramdelta/error.h"
#include "paramdelta/tensors.h"

namespace nb = nanobind;
using namespace nb::literals;

namespace paramdelta::python {

namespace {

using Bytes = nb::ndarray<const std::uint8_t, nb::ndim<1>, nb::c_contig, nb::device::cpu>;
using MutableBytes = nb::ndarray<std::uint8_t, nb::ndim<1>, nb::c_contig, nb::device::cpu>;
// (safetensors dtype, shape, elements as bytes)
using TensorArgument = std::tuple<std::string, std::vector<std::uint64_t>, Bytes>;
using OutputArgument = std::tuple<std::string, std::vector<std::uint64_t>, MutableBytes>;

DType dtype_of(const std::string& name, const std::string& tensor) {
  const auto dtype = parse_dtype(name);
  if (!dtype)
    throw Error(ErrorKind::kUsage, "'" + name + "' is not a safetensors dtype", ErrorContext{{}, tensor, {}});
  return *dtype;
}

void check_size(const std::string& tensor, DType dtype, const std::vector<std::uint64_t>& shape,
                std::size_t bytes) {
  std::uint64_t n = dtype_size(dtype);
  for (auto d : shape) n *= d;
  if (n != bytes) {
    throw Error(ErrorKind::kInternal,
                "buffer of " + std::to_string(bytes) + " bytes for " + std::to_string(n),
                ErrorContext{{}, tensor, {}});
  }
}

ConstTensor const_tensor(const TensorArgument& a, const std::string& tensor) {
  const auto& [dtype, shape, bytes] = a;
  ConstTensor t{dtype_of(dtype, tensor), shape, reinterpret_cast<const std::byte*>(bytes.data())};
  check_size(tensor, t.dtype, shape, bytes.size());
  return t;
}

MutableTensor mutable_tensor(const OutputArgument& a, const std::string& tensor) {
  const auto& [dtype, shape, bytes] = a;
  MutableTensor t{dtype_of(dtype, tensor), shape, reinterpret_cast<std::byte*>(bytes.data())};
  check_size(tensor, t.dtype, shape, bytes.size());
  return t;
}

TensorMathOptions math_options(int threads, bool allow_non_finite, const std::atomic<bool>* cancel) {
  TensorMathOptions o;
  o.threads = threads;
  o.allow_non_finite = allow_non_finite;
  o.cancel = cancel;
  return o;
}

}  // namespace

void bind_tensor_math(nb::module_& m) {
  m.def(
      "delta_dtype_for",
      [](const std::string& post) { return std::string(dtype_name(delta_dtype_for(dtype_of(post, {})))); },
      "post_dtype"_a);
  m.def(
      "compute_delta_tensor",
      [](const std::string& name, const TensorArgument& base, const TensorArgument& post,
         const OutputArgument& out, int threads, bool allow_non_finite) {
        const ConstTensor b = const_tensor(base, name), p = const_tensor(post, name);
        const MutableTensor o = mutable_tensor(out, name);
        run_in_background(nb::none(), [&](const std::atomic<bool>* cancel, ProgressSink*) {
          compute_delta_tensor(name, b, p, o, math_options(threads, allow_non_finite, cancel));
        });
      },
      "name"_a, "base"_a, "post"_a, "out"_a, "threads"_a, "allow_non_finite"_a);
  m.def(
      "apply_delta_tensor",
      [](const std::string& name, const TensorArgument& base, const TensorArgument& delta, double scale,
         const OutputArgument& out, int threads, bool allow_non_finite) {
        const ConstTensor b = const_tensor(base, name), d = const_tensor(delta, name);
        const MutableTensor o = mutable_tensor(out, name);
        run_in_background(nb::none(), [&](const std::atomic<bool>* cancel, ProgressSink*) {
          apply_delta_tensor(name, b, d, scale, o, math_options(threads, allow_non_finite, cancel));
        });
      },
      "name"_a, "base"_a, "delta"_a, "scale"_a, "out"_a, "threads"_a, "allow_non_finite"_a);
  m.def(
      "combine_delta_tensors",
      [](const std::string& name, const std::vector<TensorArgument>& deltas,
         const std::vector<double>& weights, const OutputArgument& out, int threads, bool allow_non_finite) {
        std::vector<ConstTensor> ds;
        for (const auto& d : deltas) ds.push_back(const_tensor(d, name));
        const MutableTensor o = mutable_tensor(out, name);
        run_in_background(nb::none(), [&](const std::atomic<bool>* cancel, ProgressSink*) {
          combine_delta_tensors(name, ds, weights, o, math_options(threads, allow_non_finite, cancel));
        });
      },
      "name"_a, "deltas"_a, "weights"_a, "out"_a, "threads"_a, "allow_non_finite"_a);
}

}  // namespace paramdelta::python
