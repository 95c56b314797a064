#include "paramdelta/checkpoint.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <string_view>

#include "core/float_bits.h"
#include "io/file_kind.h"
#include "io/file_ops.h"
#include "io/json_strict.h"
#include "paramdelta/error.h"
#include "storage/remote_files.h"

namespace paramdelta {

namespace fs = std::filesystem;

namespace {

// Shard names come from an untrusted index: they must name a file in the
// same directory, nothing above or beside it.
void check_shard_name(const std::string& name, const std::string& index_label, const std::string& tensor) {
  if (name.empty() || name.find('/') != std::string::npos || name.find('\\') != std::string::npos ||
      name == "." || name == ".." || name.find('\0') != std::string::npos) {
    throw_invalid(index_label, "shard file name '" + name + "' is not a plain file name", tensor,
                  "weight_map", "shards must sit in the same directory as the index");
  }
}

}  // namespace

Checkpoint Checkpoint::open(const fs::path& given, const std::string& prefix) {
  const fs::path path = without_trailing_separators(given);
  Checkpoint ckpt;
  ckpt.path_ = path;
  std::error_code ec;
  if (!storage::input_exists(path)) {
    refuse_url(given.string(), false);
    throw Error(ErrorKind::kNotFound, "no such file or directory", ErrorContext{path.string()});
  }
  if (!fs::is_directory(path, ec)) {
    ckpt.single_file_ = true;
    ckpt.root_ = path.parent_path().empty() ? fs::path(".") : path.parent_path();
    ckpt.shards_.push_back(SafetensorsFile::open(path));
  } else {
    ckpt.root_ = path;
    const fs::path index_path = path / (prefix + ".safetensors.index.json");
    const fs::path single_path = path / (prefix + ".safetensors");
    if (fs::exists(index_path, ec)) {
      const std::string label = index_path.string();
      nlohmann::json index = read_json_file(label);
      if (!index.is_object()) throw_invalid(label, "index must be a JSON object");
      if (!index.contains("weight_map") || !index["weight_map"].is_object()) {
        throw_invalid(label, "missing or not an object", {}, "weight_map");
      }
      std::map<std::string, std::size_t> shard_of_file;
      std::vector<std::pair<std::string, std::string>> mapping;  // tensor -> file
      for (const auto& [tensor, file] : index["weight_map"].items()) {
        if (!file.is_string()) throw_invalid(label, "shard name must be a string", tensor, "weight_map");
        check_shard_name(file.get<std::string>(), label, tensor);
        mapping.emplace_back(tensor, file.get<std::string>());
        shard_of_file.emplace(file.get<std::string>(), 0);
      }
      if (mapping.empty()) throw_invalid(label, "weight_map is empty", {}, "weight_map");
      std::size_t next = 0;
      for (auto& [file, idx] : shard_of_file) {
        idx = next++;
        const fs::path shard_path = path / file;
        if (!storage::input_exists(shard_path)) {
          throw_invalid(label, "names shard '" + file + "', which does not exist", {}, "weight_map",
                        "the download is incomplete");
        }
        ckpt.shards_.push_back(SafetensorsFile::open(shard_path));
      }
      std::map<std::string_view, std::string_view>
          file_of_tensor;  // a lookup, not a scan: indexes can be huge
      for (const auto& [tensor, file] : mapping) {
        const auto& shard = *ckpt.shards_[shard_of_file[file]];
        if (shard.find(tensor) == nullptr) {
          throw_invalid(label, "is mapped to shard '" + file + "', which does not contain it", tensor,
                        "weight_map");
        }
        file_of_tensor.emplace(tensor, file);
      }
      // Every tensor of every shard must be the one the index maps it to:
      // otherwise two shards claim one tensor, or a shard holds unlisted data.
      for (const auto& [file, idx] : shard_of_file) {
        for (const auto& t : ckpt.shards_[idx]->tensors()) {
          auto it = file_of_tensor.find(t.name);
          if (it == file_of_tensor.end()) {
            throw_invalid(label, "shard '" + file + "' holds a tensor the index does not list", t.name,
                          "weight_map");
          }
          if (it->second != file) {
            const std::string mapped_to(it->second);
            throw_invalid(label, "both shard '" + file + "' and shard '" + mapped_to + "' hold this tensor",
                          t.name, "weight_map", "the index maps it to '" + mapped_to + "'");
          }
        }
      }
      std::uint64_t total = 0;
      for (const auto& shard : ckpt.shards_) {
        for (const auto& t : shard->tensors()) total += t.nbytes();
      }
      if (index.contains("metadata") && index["metadata"].is_object() &&
          index["metadata"].contains("total_size")) {
        const auto& ts = index["metadata"]["total_size"];
        if (!ts.is_number() || (ts.is_number_unsigned() && ts.get<std::uint64_t>() != total)) {
          ckpt.warnings_.push_back(label + ": metadata.total_size says " + ts.dump() +
                                   " but the tensors hold " + std::to_string(total) + " bytes (ignored)");
        }
      }
    } else if (storage::input_exists(single_path)) {
      ckpt.shards_.push_back(SafetensorsFile::open(single_path));
    } else {
      refuse_foreign_weight_directory(path);
      throw Error(ErrorKind::kUsage,
                  "no " + prefix + ".safetensors or " + prefix + ".safetensors.index.json in this directory",
                  ErrorContext{path.string()},
                  "expected a Hugging Face model directory with safetensors weights, or a .safetensors file");
    }
  }
  for (std::size_t s = 0; s < ckpt.shards_.size(); ++s) {
    for (const auto& t : ckpt.shards_[s]->tensors()) {
      if (!ckpt.index_.emplace(t.name, ckpt.tensors_.size()).second) {
        throw_invalid(ckpt.shards_[s]->path().string(), "tensor appears in more than one shard", t.name);
      }
      ckpt.tensors_.push_back(TensorRef{&t, s});
    }
  }
  return ckpt;
}

const TensorRef* Checkpoint::find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

std::span<const std::byte> Checkpoint::data(const TensorRef& ref) const {
  return shards_[ref.shard]->data(*ref.info);
}

PinnedRange Checkpoint::pin_elements(const TensorRef& ref, std::uint64_t begin, std::uint64_t end) const {
  const std::uint64_t numel = ref.info->numel();
  const std::uint64_t size = dtype_size(ref.info->dtype);
  return shards_[ref.shard]->pin(*ref.info, std::min(begin, numel) * size, std::min(end, numel) * size);
}

void Checkpoint::release_elements(const TensorRef& ref, std::uint64_t begin, std::uint64_t end) const {
  const std::uint64_t numel = ref.info->numel();
  if (begin >= numel) return;
  const std::uint64_t size = dtype_size(ref.info->dtype);
  shards_[ref.shard]->release(*ref.info, begin * size, std::min(end, numel) * size);
}

std::uint64_t Checkpoint::total_tensor_bytes() const {
  std::uint64_t total = 0;
  for (const auto& t : tensors_) total += t.info->nbytes();
  return total;
}

const Metadata& Checkpoint::metadata() const { return shards_.front()->metadata(); }

bool Checkpoint::has_file(const std::string& name) const {
  std::error_code ec;
  return !single_file_ && fs::is_regular_file(root_ / name, ec);
}

std::optional<std::string> Checkpoint::read_text_file(const std::string& name) const {
  if (!has_file(name)) return std::nullopt;
  return read_small_file((root_ / name).string(), 256ull << 20);
}

std::vector<float> read_tensor_as_f32(const Checkpoint& checkpoint, const TensorRef& ref) {
  const PinnedRange pinned = checkpoint.pin(ref);
  auto bytes = checkpoint.data(ref);
  const auto n = ref.info->numel();
  std::vector<float> out(n);
  const std::byte* p = bytes.data();
  auto load = [&](auto tag, std::uint64_t i) {
    decltype(tag) v;
    std::memcpy(&v, p + i * sizeof(v), sizeof(v));
    return v;
  };
  for (std::uint64_t i = 0; i < n; ++i) {
    switch (ref.info->dtype) {
      case DType::kF32:
        out[i] = load(float{}, i);
        break;
      case DType::kF64:
        out[i] = static_cast<float>(load(double{}, i));
        break;
      case DType::kBF16:
        out[i] = fp::bf16_to_f32(load(std::uint16_t{}, i));
        break;
      case DType::kF16:
        out[i] = fp::f16_to_f32(load(std::uint16_t{}, i));
        break;
      case DType::kF8E4M3:
        out[i] = fp::f8e4m3_to_f32(load(std::uint8_t{}, i));
        break;
      case DType::kF8E5M2:
        out[i] = fp::f8e5m2_to_f32(load(std::uint8_t{}, i));
        break;
      case DType::kBool:
      case DType::kU8:
        out[i] = static_cast<float>(load(std::uint8_t{}, i));
        break;
      case DType::kI8:
        out[i] = static_cast<float>(load(std::int8_t{}, i));
        break;
      case DType::kU16:
        out[i] = static_cast<float>(load(std::uint16_t{}, i));
        break;
      case DType::kI16:
        out[i] = static_cast<float>(load(std::int16_t{}, i));
        break;
      case DType::kU32:
        out[i] = static_cast<float>(load(std::uint32_t{}, i));
        break;
      case DType::kI32:
        out[i] = static_cast<float>(load(std::int32_t{}, i));
        break;
      case DType::kU64:
        out[i] = static_cast<float>(load(std::uint64_t{}, i));
        break;
      case DType::kI64:
        out[i] = static_cast<float>(load(std::int64_t{}, i));
        break;
    }
  }
  return out;
}

}  // namespace paramdelta
