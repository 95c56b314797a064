// Models and deltas opened lazily, their tensors handed out as read-only
// NumPy arrays over the file mapping (no copy), and tensors written as a
// model.
#include "paramdelta/tensors.h"

#include <nanobind/ndarray.h>
#include <nanobind/stl/map.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "background_run.h"
#include "bindings.h"
#include "paramdelta/error.h"

namespace nb = nanobind;
using namespace nb::literals;

namespace paramdelta::python {

namespace {

// What NumPy holds the elements as. Types NumPy lacks (BF16, the 8-bit
// floats) are handed out as unsigned integers of their width, which the
// Python layer views as ml_dtypes' types.
nb::dlpack::dtype numpy_element_type(DType dtype) {
  using nb::dlpack::dtype_code;
  auto make = [](dtype_code code, int bits) {
    return nb::dlpack::dtype{static_cast<std::uint8_t>(code), static_cast<std::uint8_t>(bits), 1};
  };
  switch (dtype) {
    case DType::kBool:
      return make(dtype_code::Bool, 8);
    case DType::kU8:
    case DType::kF8E4M3:
    case DType::kF8E5M2:
      return make(dtype_code::UInt, 8);
    case DType::kI8:
      return make(dtype_code::Int, 8);
    case DType::kU16:
    case DType::kBF16:
      return make(dtype_code::UInt, 16);
    case DType::kI16:
      return make(dtype_code::Int, 16);
    case DType::kU32:
      return make(dtype_code::UInt, 32);
    case DType::kI32:
      return make(dtype_code::Int, 32);
    case DType::kU64:
      return make(dtype_code::UInt, 64);
    case DType::kI64:
      return make(dtype_code::Int, 64);
    case DType::kF16:
      return make(dtype_code::Float, 16);
    case DType::kF32:
      return make(dtype_code::Float, 32);
    case DType::kF64:
      return make(dtype_code::Float, 64);
  }
  return make(dtype_code::UInt, 8);
}

using ReadOnlyArray = nb::ndarray<nb::numpy, nb::ro>;
using Bytes = nb::ndarray<const std::uint8_t, nb::ndim<1>, nb::c_contig, nb::device::cpu>;

class OpenedCheckpoint {
 public:
  explicit OpenedCheckpoint(Checkpoint checkpoint)
      : checkpoint_(std::make_shared<Checkpoint>(std::move(checkpoint))) {}

  std::vector<std::string> keys() const {
    std::vector<std::string> names;
    for (const auto& ref : checkpoint_->tensors()) names.push_back(ref.name());
    return names;
  }

  // (dtype, shape, bytes, file) of one tensor.
  std::tuple<std::string, std::vector<std::uint64_t>, std::uint64_t, std::string> info(
      const std::string& name) const {
    const TensorRef& ref = find(name);
    return {std::string(dtype_name(ref.info->dtype)), ref.info->shape, ref.info->nbytes(),
            checkpoint_->shard(ref.shard).path().string()};
  }

  // The tensor's elements in place: the array keeps the mapping alive.
  ReadOnlyArray array(const std::string& name) const {
    const TensorRef& ref = find(name);
    const auto bytes = checkpoint_->data(ref);
    std::vector<std::size_t> shape(ref.info->shape.begin(), ref.info->shape.end());
    // The checkpoint, and the tensor's bytes pinned (a remote file's are fetched).
    struct Keep {
      std::shared_ptr<Checkpoint> checkpoint;
      PinnedRange pinned;
    };
    auto* keep = new Keep{checkpoint_, checkpoint_->pin(ref)};
    nb::capsule owner(keep, [](void* p) noexcept { delete static_cast<Keep*>(p); });
    return ReadOnlyArray(const_cast<std::byte*>(bytes.data()), shape.size(), shape.data(), owner, nullptr,
                         numpy_element_type(ref.info->dtype));
  }

  // Where the mapped bytes of a tensor lie, for checks that reads do not copy.
  std::tuple<std::uintptr_t, std::uint64_t> address(const std::string& name) const {
    const auto bytes = checkpoint_->data(find(name));
    return {reinterpret_cast<std::uintptr_t>(bytes.data()), bytes.size()};
  }

  Metadata metadata() const { return checkpoint_->metadata(); }
  std::string path() const { return checkpoint_->path().string(); }
  std::vector<std::string> warnings() const { return checkpoint_->warnings(); }

 private:
  const TensorRef& find(const std::string& name) const {
    const TensorRef* ref = checkpoint_->find(name);
    if (ref == nullptr) {
      throw Error(ErrorKind::kNotFound, "no such tensor",
                  ErrorContext{checkpoint_->path().string(), name, {}}, "list the names with keys()");
    }
    return *ref;
  }

  std::shared_ptr<Checkpoint> checkpoint_;
};

DType dtype_argument(const std::string& name, const std::string& tensor) {
  const auto dtype = parse_dtype(name);
  if (!dtype) {
    throw Error(ErrorKind::kUsage, "'" + name + "' is not a safetensors dtype", ErrorContext{{}, tensor, {}});
  }
  return *dtype;
}

}  // namespace

void bind_tensors(nb::module_& m) {
  nb::class_<OpenedCheckpoint>(m, "Checkpoint")
      .def_static(
          "open",
          [](const std::string& location) {
            std::unique_ptr<OpenedCheckpoint> opened;
            run_in_background(nb::none(), [&](const std::atomic<bool>*, ProgressSink*) {
              opened = std::make_unique<OpenedCheckpoint>(open_checkpoint(location));
            });
            return opened.release();
          },
          "location"_a, nb::rv_policy::take_ownership)
      .def("keys", &OpenedCheckpoint::keys)
      .def("info", &OpenedCheckpoint::info, "name"_a)
      .def("array", &OpenedCheckpoint::array, "name"_a)
      .def("address", &OpenedCheckpoint::address, "name"_a)
      .def("metadata", &OpenedCheckpoint::metadata)
      .def("path", &OpenedCheckpoint::path)
      .def("warnings", &OpenedCheckpoint::warnings);

  // tensors: (name, delta dtype, shape, bytes, base dtype, post dtype).
  m.def(
      "save_delta",
      [](const std::string& output,
         const std::vector<std::tuple<std::string, std::string, std::vector<std::uint64_t>, Bytes,
                                      std::string, std::string>>& tensors,
         bool force, std::uint64_t max_shard_size, nb::object progress) {
        std::vector<DeltaTensorToWrite> items;
        for (const auto& [name, dtype, shape, bytes, base_dtype, post_dtype] : tensors) {
          items.push_back(
              {{name, dtype_argument(dtype, name), shape,
                std::span<const std::byte>(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size())},
               dtype_argument(base_dtype, name),
               dtype_argument(post_dtype, name)});
        }
        RunOptions run;
        run.force = force;
        run.max_shard_size = max_shard_size;
        OperationSummary summary;
        run_in_background(progress, [&](const std::atomic<bool>* cancel, ProgressSink* sink) {
          run.cancel = cancel;
          run.progress = sink;
          summary = write_delta_tensors(output, items, run);
        });
        return to_json(summary);
      },
      "output"_a, "tensors"_a, "force"_a, "max_shard_size"_a, "progress"_a.none());

  // tensors: (name, safetensors dtype, shape, the elements as bytes).
  m.def(
      "save",
      [](const std::string& output,
         const std::vector<std::tuple<std::string, std::string, std::vector<std::uint64_t>, Bytes>>& tensors,
         const Metadata& metadata, bool force, std::uint64_t max_shard_size, nb::object progress) {
        std::vector<TensorToWrite> items;
        for (const auto& [name, dtype, shape, bytes] : tensors) {
          items.push_back(
              {name, dtype_argument(dtype, name), shape,
               std::span<const std::byte>(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size())});
        }
        RunOptions run;
        run.force = force;
        run.max_shard_size = max_shard_size;
        OperationSummary summary;
        run_in_background(progress, [&](const std::atomic<bool>* cancel, ProgressSink* sink) {
          run.cancel = cancel;
          run.progress = sink;
          summary = write_tensors(output, items, metadata, run);
        });
        return to_json(summary);
      },
      "output"_a, "tensors"_a, "metadata"_a, "force"_a, "max_shard_size"_a, "progress"_a.none());
}

}  // namespace paramdelta::python
