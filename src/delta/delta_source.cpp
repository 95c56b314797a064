#include "delta/delta_source.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <set>
#include <string_view>
#include <unordered_set>

#include "engine/convert.h"
#include "paramdelta/error.h"
#include "storage/remote_files.h"

namespace paramdelta {

namespace fs = std::filesystem;

std::uint64_t ExceptionList::index_at(std::uint64_t i) const {
  if (index_dtype == DType::kU32) {
    std::uint32_t v;
    std::memcpy(&v, index + i * 4, 4);
    return v;
  }
  std::uint64_t v;
  std::memcpy(&v, index + i * 8, 8);
  return v;
}

std::uint64_t ExceptionList::lower_bound(std::uint64_t element) const {
  std::uint64_t lo = 0, hi = count;
  while (lo < hi) {
    std::uint64_t mid = lo + (hi - lo) / 2;
    if (index_at(mid) < element)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

namespace {

std::string not_a_delta_hint() {
  return "a delta is what 'paramdelta compute' writes, or post - base tensors in a .safetensors file or a "
         "delta.safetensors directory without config.json; a model is given as the base (" +
         option_ref("base") + ")";
}

bool file_exists(const fs::path& path) { return storage::input_exists(path); }

}  // namespace

DeltaProbe probe_delta(const fs::path& path, bool given_as_delta) {
  std::error_code ec;
  if (!storage::input_exists(path)) Checkpoint::open(path);  // throws the error of a missing input
  if (fs::is_directory(path, ec)) {
    if (file_exists(path / kManifestFileName)) return {DeltaForm::kManifest, {}, {}};
    if (file_exists(path / "config.json")) {
      return {DeltaForm::kNone, std::string("a model directory (config.json) without ") + kManifestFileName,
              not_a_delta_hint()};
    }
    if (file_exists(path / "delta.safetensors") || file_exists(path / "delta.safetensors.index.json")) {
      return {DeltaForm::kManifestless, {}, {}};
    }
    return {
        DeltaForm::kNone,
        std::string("no ") + kManifestFileName + ", and no delta.safetensors or delta.safetensors.index.json",
        not_a_delta_hint()};
  }
  const auto file = SafetensorsFile::open(path);
  if (file->metadata().count(kManifestMetadataKey) > 0) return {DeltaForm::kManifest, {}, {}};
  const fs::path dir = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  if (file_exists(dir / kManifestFileName)) {
    return {DeltaForm::kNone,
            "a file of the delta directory " + dir.string() + " (its manifest is " +
                (dir / kManifestFileName).string() + ")",
            "pass the directory, " + dir.string()};
  }
  if (file_exists(dir / "config.json")) {
    return {DeltaForm::kNone,
            std::string("a model's weight file (config.json beside it) without '") + kManifestMetadataKey +
                "' metadata",
            not_a_delta_hint()};
  }
  std::string name = path.filename().string();
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  if (!given_as_delta && name.find("delta") == std::string::npos) {
    return {DeltaForm::kNone, "a .safetensors file without a manifest or 'delta' in its name",
            not_a_delta_hint()};
  }
  return {DeltaForm::kManifestless, {}, {}};
}

void DeltaSource::infer_manifest() {
  has_manifest_ = false;
  manifest_ = Manifest{};
  manifest_.operation = "";
  manifest_.encoding = kEncodingPlain;
  manifest_.lossless = false;
  std::set<std::string> dtypes;
  std::uint64_t carried = 0;
  for (const auto& ref : tensors_.tensors()) {
    ManifestTensor t;
    t.name = ref.name();
    t.dtype = ref.info->dtype;
    t.shape = ref.info->shape;
    if (is_floating(t.dtype)) {
      t.kind = TensorKind::kDelta;
      t.base_shape = t.shape;  // post − base needs both of one shape
      dtypes.insert(std::string(dtype_name(t.dtype)));
    } else {
      t.kind = TensorKind::kCarry;
      ++carried;
    }
    manifest_.tensors.push_back(std::move(t));
  }
  std::string stored;
  for (const auto& d : dtypes) stored += (stored.empty() ? "" : ", ") + d;
  notes_.push_back(
      path_.string() +
      " has no paramdelta manifest (a delta as the Python implementation writes it): post - base "
      "as stored" +
      (stored.empty() ? std::string() : " (" + stored + ")") +
      "; provenance and exactness unknown, and no checksum to verify the base against");
  if (carried > 0) {
    notes_.push_back(
        std::to_string(carried) +
        " integer or bool tensor(s) in it taken for carried values, not differences: apply keeps the "
        "base's");
  }
}

DeltaSource DeltaSource::open(const fs::path& path) {
  const DeltaProbe probe = probe_delta(path, /*given_as_delta=*/true);
  if (probe.form == DeltaForm::kNone) {
    throw Error(ErrorKind::kUsage, "not a paramdelta delta: " + probe.reason, ErrorContext{path.string()},
                probe.hint);
  }
  DeltaSource d;
  d.path_ = path;
  if (probe.form == DeltaForm::kManifestless) {
    d.tensors_ = Checkpoint::open(path, "delta");
    d.infer_manifest();
    const auto& tensors = d.manifest_.tensors;
    if (std::none_of(tensors.begin(), tensors.end(),
                     [](const auto& t) { return t.kind == TensorKind::kDelta; })) {
      throw Error(ErrorKind::kUsage,
                  std::string("not a paramdelta delta: no ") + kManifestFileName + " or '" +
                      kManifestMetadataKey +
                      "' metadata, and no floating-point tensor to take for a difference",
                  ErrorContext{path.string()}, not_a_delta_hint());
    }
    return d;
  }
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    const fs::path manifest_path = path / kManifestFileName;
    d.manifest_ =
        manifest_from_json(Checkpoint::open(path, "delta").read_text_file(kManifestFileName).value_or(""),
                           manifest_path.string());
    d.tensors_ = Checkpoint::open(path, "delta");
    if (!d.manifest_.exceptions_location.empty()) {
      const std::string& loc = d.manifest_.exceptions_location;
      if (loc.find('/') != std::string::npos || loc == "." || loc == "..") {
        throw_invalid(manifest_path.string(), "exceptions file name is not a plain file name", {},
                      "encoding.exceptions");
      }
      d.exception_store_ = Checkpoint::open(path / loc);
    }
  } else {
    d.tensors_ = Checkpoint::open(path);
    const auto& meta = d.tensors_.metadata();
    auto it = meta.find(kManifestMetadataKey);
    if (it == meta.end()) {
      throw Error(ErrorKind::kUsage,
                  std::string("not a paramdelta delta: no '") + kManifestMetadataKey + "' metadata",
                  ErrorContext{path.string()}, not_a_delta_hint());
    }
    d.manifest_ = manifest_from_json(it->second, path.string() + " (metadata " + kManifestMetadataKey + ")");
    if (!d.manifest_.exceptions_location.empty()) d.exception_store_ = d.tensors_;
  }
  const std::string label = path.string();
  // The manifest and the tensor files must describe the same tensors.
  for (const auto& t : d.manifest_.tensors) {
    const TensorRef* ref = d.tensors_.find(t.name);
    if (ref == nullptr)
      throw_invalid(label, "listed in the manifest but missing from the delta's tensors", t.name);
    if (ref->info->dtype != t.dtype || ref->info->shape != t.shape) {
      throw_invalid(label, "dtype or shape differs between the manifest and the tensor file", t.name);
    }
    if (t.exceptions > 0 && !d.exception_store_) {
      throw_invalid(label, "manifest records exceptions but the delta has no exceptions store", t.name);
    }
  }
  std::unordered_set<std::string_view>
      listed;  // not Manifest::find, a linear scan: this loop would be O(n^2)
  for (const auto& t : d.manifest_.tensors) listed.insert(t.name);
  for (const auto& ref : d.tensors_.tensors()) {
    if (ref.name().find("::exceptions.") != std::string::npos) continue;
    if (!listed.contains(ref.name())) {
      throw_invalid(label, "present in the delta's tensors but not in its manifest", ref.name());
    }
  }
  return d;
}

ExceptionList DeltaSource::exceptions(const ManifestTensor& tensor) const {
  ExceptionList list;
  if (tensor.exceptions == 0 || !exception_store_) return list;
  const std::string label = exception_store_->path().string();
  const TensorRef* index = exception_store_->find(exception_tensor_name(tensor.name, "index"));
  const TensorRef* base = exception_store_->find(exception_tensor_name(tensor.name, "base"));
  const TensorRef* post = exception_store_->find(exception_tensor_name(tensor.name, "post"));
  if (index == nullptr || base == nullptr || post == nullptr) {
    throw_invalid(label,
                  "exception lists missing for a tensor whose manifest records " +
                      std::to_string(tensor.exceptions) + " exceptions",
                  tensor.name);
  }
  const std::vector<std::uint64_t> expected{tensor.exceptions};
  if (index->info->shape != expected || base->info->shape != expected || post->info->shape != expected) {
    throw_invalid(label, "exception lists do not hold the number of entries the manifest records",
                  tensor.name);
  }
  if (index->info->dtype != DType::kU32 && index->info->dtype != DType::kI64) {
    throw_invalid(label, "exception index must be U32 or I64", tensor.name);
  }
  if (tensor.base_dtype && base->info->dtype != *tensor.base_dtype) {
    throw_invalid(label, "exception base values have the wrong dtype", tensor.name);
  }
  if (tensor.post_dtype && post->info->dtype != *tensor.post_dtype) {
    throw_invalid(label, "exception post values have the wrong dtype", tensor.name);
  }
  list.count = tensor.exceptions;
  list.index_dtype = index->info->dtype;
  list.base_dtype = base->info->dtype;
  list.post_dtype = post->info->dtype;
  list.pins = std::make_shared<std::vector<PinnedRange>>();
  for (const TensorRef* ref : {index, base, post}) list.pins->push_back(exception_store_->pin(*ref));
  list.index = exception_store_->data(*index).data();
  list.base = exception_store_->data(*base).data();
  list.post = exception_store_->data(*post).data();
  // Indices must be strictly increasing and inside the tensor: lookups rely on it.
  std::uint64_t numel = 1;
  for (auto dim : tensor.shape) numel *= dim;
  std::uint64_t previous = 0;
  for (std::uint64_t i = 0; i < list.count; ++i) {
    const std::uint64_t v = list.index_at(i);
    if (v >= numel || (i > 0 && v <= previous)) {
      throw_invalid(label, "exception indices must be increasing and below " + std::to_string(numel),
                    tensor.name, "index[" + std::to_string(i) + "]");
    }
    previous = v;
  }
  return list;
}

void read_delta_values(const DeltaSource& delta, const TensorRef& ref, const ExceptionList& exceptions,
                       std::uint64_t begin, std::uint64_t end, double* out) {
  const DType dtype = ref.info->dtype;
  const PinnedRange pinned = delta.tensors().pin_elements(ref, begin, end);
  engine::load_as_f64(delta.tensors().data(ref).data() + begin * dtype_size(dtype), dtype,
                      static_cast<std::size_t>(end - begin), out);
  for (std::uint64_t e = exceptions.lower_bound(begin); e < exceptions.count; ++e) {
    const std::uint64_t index = exceptions.index_at(e);
    if (index >= end) break;
    const std::uint64_t base = engine::element_bits(exceptions.base, exceptions.base_dtype, e);
    const std::uint64_t post = engine::element_bits(exceptions.post, exceptions.post_dtype, e);
    out[index - begin] =
        engine::bits_to_f64(post, exceptions.post_dtype) - engine::bits_to_f64(base, exceptions.base_dtype);
  }
}

void DeltaSource::release_exceptions(const ManifestTensor& tensor) const {
  if (tensor.exceptions == 0 || !exception_store_) return;
  for (const char* part : {"index", "base", "post"}) {
    if (const TensorRef* ref = exception_store_->find(exception_tensor_name(tensor.name, part))) {
      exception_store_->release_elements(*ref, 0, ref->info->numel());
    }
  }
}

}  // namespace paramdelta
