#include "delta/manifest.h"

#include <nlohmann/json.hpp>

#include "io/json_strict.h"
#include "paramdelta/error.h"

namespace paramdelta {

using json = nlohmann::ordered_json;

std::string tensor_kind_name(TensorKind kind) {
  switch (kind) {
    case TensorKind::kDelta: return "delta";
    case TensorKind::kFull: return "full";
    case TensorKind::kCarry: return "carry";
  }
  return "delta";
}

std::string exception_tensor_name(const std::string& tensor, const char* part) {
  return tensor + "::exceptions." + part;
}

const ManifestTensor* Manifest::find(const std::string& name) const {
  for (const auto& t : tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

std::string manifest_to_json(const Manifest& m) {
  json j;
  j["format"] = "paramdelta.delta";
  j["format_version"] = m.format_version;
  j["tool"] = m.tool;
  j["created"] = m.created;
  j["operation"] = m.operation;
  j["encoding"] = {{"name", m.encoding}, {"lossless", m.lossless}, {"exceptions", m.exceptions_location}};
  j["checksum"] = m.checksum;
  j["base"] = {{"source", m.base_source}, {"tensor_bytes", m.base_tensor_bytes}};
  j["post"] = {{"source", m.post_source}, {"tensor_bytes", m.post_tensor_bytes}};
  j["policies"] = {{"vocab_mismatch", m.vocab_mismatch},
                   {"allow_non_finite", m.allow_non_finite},
                   {"missing_in_post", "recorded as removed; apply omits them"},
                   {"missing_in_base", "stored as full values"},
                   {"integer_tensors", "carried from the post model; apply keeps the new base's"}};
  json tensors = json::object();
  for (const auto& t : m.tensors) {
    json e;
    e["kind"] = tensor_kind_name(t.kind);
    e["dtype"] = std::string(dtype_name(t.dtype));
    e["shape"] = t.shape;
    if (t.base_dtype) e["base_dtype"] = std::string(dtype_name(*t.base_dtype));
    if (t.post_dtype) e["post_dtype"] = std::string(dtype_name(*t.post_dtype));
    if (!t.base_shape.empty() || t.kind == TensorKind::kDelta) e["base_shape"] = t.base_shape;
    if (!t.base_tensor.empty()) e["base_tensor"] = t.base_tensor;
    if (!t.base_checksum.empty()) e["base_checksum"] = t.base_checksum;
    if (!t.post_checksum.empty()) e["post_checksum"] = t.post_checksum;
    e["exceptions"] = t.exceptions;
    if (t.delta_rows) e["delta_rows"] = *t.delta_rows;
    tensors[t.name] = std::move(e);
  }
  j["tensors"] = std::move(tensors);
  j["removed_tensors"] = m.removed_tensors;
  j["files"] = m.files;
  if (!m.combined_from.empty()) {
    j["combined_from"] = m.combined_from;
    j["combine_weights"] = m.combine_weights;
  }
  return j.dump(2) + "\n";
}

namespace {

const json& require(const json& obj, const char* key, const std::string& label, const std::string& where) {
  if (!obj.is_object() || !obj.contains(key)) {
    throw_invalid(label, "missing required field", {}, where.empty() ? key : where + "." + key,
                  "the delta manifest is damaged or from an incompatible version");
  }
  return obj[key];
}

std::string require_string(const json& obj, const char* key, const std::string& label, const std::string& where) {
  const auto& v = require(obj, key, label, where);
  if (!v.is_string()) throw_invalid(label, "must be a string", {}, where.empty() ? key : where + "." + key);
  return v.get<std::string>();
}

DType require_dtype(const json& obj, const char* key, const std::string& label, const std::string& tensor) {
  const auto& v = require(obj, key, label, "tensors." + tensor);
  if (!v.is_string() || !parse_dtype(v.get<std::string>())) {
    throw_invalid(label, "unknown dtype", tensor, key);
  }
  return *parse_dtype(v.get<std::string>());
}

std::vector<std::uint64_t> require_shape(const json& v, const std::string& label, const std::string& tensor,
                                         const char* key) {
  if (!v.is_array()) throw_invalid(label, "must be an array", tensor, key);
  std::vector<std::uint64_t> shape;
  for (const auto& d : v) {
    if (!d.is_number_unsigned()) throw_invalid(label, "dimensions must be non-negative integers", tensor, key);
    shape.push_back(d.get<std::uint64_t>());
  }
  return shape;
}

std::vector<std::string> string_list(const json& obj, const char* key, const std::string& label) {
  std::vector<std::string> out;
  if (!obj.contains(key)) return out;
  if (!obj[key].is_array()) throw_invalid(label, "must be an array of strings", {}, key);
  for (const auto& v : obj[key]) {
    if (!v.is_string()) throw_invalid(label, "must be an array of strings", {}, key);
    out.push_back(v.get<std::string>());
  }
  return out;
}

}  // namespace

Manifest manifest_from_json(const std::string& text, const std::string& label) {
  json j = parse_json_strict_ordered(text, label);
  if (!j.is_object()) throw_invalid(label, "manifest must be a JSON object");
  if (require_string(j, "format", label, "") != "paramdelta.delta") {
    throw_invalid(label, "is not a paramdelta delta manifest", {}, "format");
  }
  Manifest m;
  const auto& version = require(j, "format_version", label, "");
  if (!version.is_number_integer()) throw_invalid(label, "must be an integer", {}, "format_version");
  m.format_version = version.get<int>();
  if (m.format_version != kDeltaFormatVersion) {
    throw_invalid(label, "format version " + std::to_string(m.format_version) + " is not supported", {},
                  "format_version", "this paramdelta reads version " + std::to_string(kDeltaFormatVersion));
  }
  m.tool = j.value("tool", "");
  m.created = j.value("created", "");
  m.operation = j.value("operation", "compute");
  const auto& enc = require(j, "encoding", label, "");
  m.encoding = require_string(enc, "name", label, "encoding");
  if (m.encoding != kEncodingExact && m.encoding != kEncodingPlain) {
    throw_invalid(label, "unknown encoding '" + m.encoding + "'", {}, "encoding.name",
                  "the delta was written by a newer paramdelta");
  }
  m.lossless = enc.value("lossless", false);
  m.exceptions_location = enc.value("exceptions", "");
  m.checksum = j.value("checksum", "");
  if (j.contains("base") && j["base"].is_object()) {
    m.base_source = j["base"].value("source", "");
    m.base_tensor_bytes = j["base"].value("tensor_bytes", std::uint64_t{0});
  }
  if (j.contains("post") && j["post"].is_object()) {
    m.post_source = j["post"].value("source", "");
    m.post_tensor_bytes = j["post"].value("tensor_bytes", std::uint64_t{0});
  }
  if (j.contains("policies") && j["policies"].is_object()) {
    m.vocab_mismatch = j["policies"].value("vocab_mismatch", "error");
    m.allow_non_finite = j["policies"].value("allow_non_finite", false);
  }
  const auto& tensors = require(j, "tensors", label, "");
  if (!tensors.is_object()) throw_invalid(label, "must be an object", {}, "tensors");
  for (const auto& [name, e] : tensors.items()) {
    if (!e.is_object()) throw_invalid(label, "entry must be an object", name);
    ManifestTensor t;
    t.name = name;
    const std::string kind = e.value("kind", "");
    if (kind == "delta") t.kind = TensorKind::kDelta;
    else if (kind == "full") t.kind = TensorKind::kFull;
    else if (kind == "carry") t.kind = TensorKind::kCarry;
    else throw_invalid(label, "unknown kind '" + kind + "'", name, "kind");
    t.dtype = require_dtype(e, "dtype", label, name);
    t.shape = require_shape(require(e, "shape", label, "tensors." + name), label, name, "shape");
    if (e.contains("base_dtype")) t.base_dtype = require_dtype(e, "base_dtype", label, name);
    if (e.contains("post_dtype")) t.post_dtype = require_dtype(e, "post_dtype", label, name);
    if (e.contains("base_shape")) t.base_shape = require_shape(e["base_shape"], label, name, "base_shape");
    t.base_tensor = e.value("base_tensor", "");
    t.base_checksum = e.value("base_checksum", "");
    t.post_checksum = e.value("post_checksum", "");
    const auto& exc = e.contains("exceptions") ? e["exceptions"] : json(0);
    if (!exc.is_number_unsigned()) throw_invalid(label, "must be a non-negative integer", name, "exceptions");
    t.exceptions = exc.get<std::uint64_t>();
    if (e.contains("delta_rows")) {
      if (!e["delta_rows"].is_number_unsigned()) throw_invalid(label, "must be a non-negative integer", name, "delta_rows");
      t.delta_rows = e["delta_rows"].get<std::uint64_t>();
      if (t.shape.empty() || *t.delta_rows > t.shape[0]) throw_invalid(label, "exceeds the tensor's rows", name, "delta_rows");
    }
    if (t.kind == TensorKind::kDelta && !t.base_dtype) throw_invalid(label, "missing required field", name, "base_dtype");
    m.tensors.push_back(std::move(t));
  }
  m.removed_tensors = string_list(j, "removed_tensors", label);
  m.files = string_list(j, "files", label);
  m.combined_from = string_list(j, "combined_from", label);
  if (j.contains("combine_weights") && j["combine_weights"].is_array()) {
    for (const auto& w : j["combine_weights"]) {
      if (w.is_number()) m.combine_weights.push_back(w.get<double>());
    }
  }
  return m;
}

}  // namespace paramdelta
