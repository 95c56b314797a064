// The validation gate for safetensors headers: every rule of the format is
// checked here, before any tensor data is looked at.
#include <algorithm>
#include <limits>
#include <string>

#include "io/json_strict.h"
#include "paramdelta/error.h"
#include "paramdelta/safetensors.h"

namespace paramdelta {

namespace {

std::uint64_t read_le64(std::span<const std::byte> bytes) {
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<std::uint64_t>(bytes[i]);
  return n;
}

bool checked_mul(std::uint64_t a, std::uint64_t b, std::uint64_t& out) {
  return !__builtin_mul_overflow(a, b, &out);
}

std::uint64_t require_unsigned(const nlohmann::json& value, const std::string& label,
                               const std::string& tensor, const std::string& field) {
  if (!value.is_number_unsigned()) {
    std::string kind = value.is_number_integer() ? "a negative number"
                       : value.is_number_float() ? "not an integer (or too large for 64 bits)"
                                                 : std::string("a ") + value.type_name();
    throw_invalid(label, "must be a non-negative integer, found " + kind, tensor, field);
  }
  return value.get<std::uint64_t>();
}

TensorInfo parse_tensor_entry(const std::string& name, const nlohmann::json& entry,
                              const std::string& label) {
  if (!entry.is_object())
    throw_invalid(label, std::string("entry must be an object, found ") + entry.type_name(), name);
  for (const auto& [key, _] : entry.items()) {
    if (key != "dtype" && key != "shape" && key != "data_offsets") {
      throw_invalid(label, "unknown field in tensor entry", name, key,
                    "a tensor entry has exactly dtype, shape and data_offsets");
    }
  }
  for (const char* required : {"dtype", "shape", "data_offsets"}) {
    if (!entry.contains(required)) throw_invalid(label, "missing required field", name, required);
  }
  TensorInfo info;
  info.name = name;

  const auto& dtype = entry["dtype"];
  if (!dtype.is_string()) throw_invalid(label, "must be a string", name, "dtype");
  auto parsed = parse_dtype(dtype.get<std::string>());
  if (!parsed) {
    throw_invalid(
        label, "unknown dtype '" + dtype.get<std::string>() + "'", name, "dtype",
        "supported: BOOL, U8, I8, U16, I16, U32, I32, U64, I64, F8_E4M3, F8_E5M2, F16, BF16, F32, F64");
  }
  info.dtype = *parsed;

  const auto& shape = entry["shape"];
  if (!shape.is_array()) throw_invalid(label, "must be an array", name, "shape");
  std::uint64_t numel = 1;
  for (const auto& dim : shape) {
    std::uint64_t d = require_unsigned(dim, label, name, "shape");
    info.shape.push_back(d);
    if (!checked_mul(numel, d, numel)) {
      throw_invalid(label, "the product of the dimensions overflows 64 bits", name, "shape");
    }
  }
  std::uint64_t nbytes = 0;
  if (!checked_mul(numel, dtype_size(info.dtype), nbytes)) {
    throw_invalid(label, "the tensor's byte size overflows 64 bits", name, "shape");
  }

  const auto& offsets = entry["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2) {
    throw_invalid(label, "must be an array of two integers [begin, end]", name, "data_offsets");
  }
  info.begin = require_unsigned(offsets[0], label, name, "data_offsets");
  info.end = require_unsigned(offsets[1], label, name, "data_offsets");
  if (info.end < info.begin) {
    throw_invalid(label, "end " + std::to_string(info.end) + " is before begin " + std::to_string(info.begin),
                  name, "data_offsets");
  }
  if (info.end - info.begin != nbytes) {
    throw_invalid(label,
                  "holds " + std::to_string(info.end - info.begin) + " bytes but dtype " +
                      std::string(dtype_name(info.dtype)) + " and shape need " + std::to_string(nbytes),
                  name, "data_offsets");
  }
  return info;
}

}  // namespace

std::uint64_t TensorInfo::numel() const {
  std::uint64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

SafetensorsHeader parse_safetensors_header(std::span<const std::byte> file, std::uint64_t file_size,
                                           const std::string& label) {
  if (file_size < 8 || file.size() < 8) {
    throw_invalid(label,
                  "file is " + std::to_string(file_size) +
                      " bytes; a safetensors file starts with an 8-byte header length",
                  {}, {}, "the file is truncated or not safetensors");
  }
  SafetensorsHeader header;
  header.header_length = read_le64(file.first(8));
  if (header.header_length > kMaxHeaderBytes) {
    throw_invalid(label,
                  "header length " + std::to_string(header.header_length) + " exceeds the limit of " +
                      std::to_string(kMaxHeaderBytes) + " bytes",
                  {}, {}, "the file is corrupt or not safetensors");
  }
  if (header.header_length > file_size - 8) {
    throw_invalid(label,
                  "header length " + std::to_string(header.header_length) + " runs past the end of the " +
                      std::to_string(file_size) + "-byte file",
                  {}, {}, "the file is truncated or not safetensors");
  }
  if (file.size() < 8 + header.header_length) {
    throw Error(ErrorKind::kInternal, "header bytes not provided", ErrorContext{label, {}, {}});
  }
  if (header.header_length < 2) throw_invalid(label, "header is too short to hold a JSON object");
  auto text = std::string_view(reinterpret_cast<const char*>(file.data()) + 8, header.header_length);
  // JSON whitespace may surround the object, as the reference reader allows.
  const auto start = text.find_first_not_of(" \t\n\r");
  if (start == std::string_view::npos || text[start] != '{') {
    throw_invalid(label, "header does not start with '{'", {}, {}, "the file is corrupt or not safetensors");
  }

  nlohmann::json json = parse_json_strict(text, label, kMaxJsonDepth);
  if (!json.is_object()) throw_invalid(label, "header is not a JSON object");

  for (const auto& [key, value] : json.items()) {
    if (key == "__metadata__") {
      if (value.is_null()) continue;  // no metadata, as the reference reader reads it
      if (!value.is_object()) throw_invalid(label, "must be an object of strings", {}, "__metadata__");
      for (const auto& [mkey, mvalue] : value.items()) {
        if (!mvalue.is_string()) {
          throw_invalid(label, std::string("metadata values must be strings, found ") + mvalue.type_name(),
                        {}, "__metadata__." + mkey);
        }
        header.metadata[mkey] = mvalue.get<std::string>();
      }
      continue;
    }
    header.tensors.push_back(parse_tensor_entry(key, value, label));
  }

  std::sort(header.tensors.begin(), header.tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  // The data area must be tiled exactly: first tensor at 0, each next one where
  // the previous ends, and the last one ending where the file ends.
  std::uint64_t expected = 0;
  const TensorInfo* previous = nullptr;
  for (const auto& t : header.tensors) {
    if (t.begin != expected) {
      if (previous == nullptr) {
        throw_invalid(label, "the first tensor starts at byte " + std::to_string(t.begin) + " instead of 0",
                      t.name, "data_offsets", "the data area must have no gaps");
      }
      throw_invalid(label,
                    std::string(t.begin < expected ? "overlaps" : "leaves a gap after") + " tensor '" +
                        previous->name + "' (which ends at " + std::to_string(expected) +
                        ", this starts at " + std::to_string(t.begin) + ")",
                    t.name, "data_offsets", "tensors must be contiguous, without gaps or overlaps");
    }
    expected = t.end;
    previous = &t;
  }
  const std::uint64_t data_size = file_size - 8 - header.header_length;
  if (expected != data_size) {
    if (expected > data_size) {
      throw_invalid(label,
                    "data is truncated: tensors need " + std::to_string(expected) +
                        " bytes but the file holds " + std::to_string(data_size),
                    previous ? previous->name : std::string(), {}, "the download or copy was interrupted");
    }
    throw_invalid(label, std::to_string(data_size - expected) + " trailing bytes after the last tensor", {},
                  {}, "the file is corrupt");
  }
  return header;
}

}  // namespace paramdelta
