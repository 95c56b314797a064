#include "delta/manifest.h"

#include <nlohmann/json.hpp>

#include "io/json_strict.h"
#include "paramdelta/error.h"

namespace paramdelta {

using json = nlohmann::ordered_json;

std::string tensor_kind_name(TensorKind kind) {
  switch (kind) {
    case TensorKind::kDelta:
      return "delta";
    case TensorKind::kFull:
      return "full";
    case TensorKind::kCarry:
      return "carry";
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
  for (auto [side, identity] : {std::pair{"base", &m.base_identity}, std::pair{"post", &m.post_identity}}) {
    if (!identity->model_type.empty()) j[side]["model_type"] = identity->model_type;
    if (!identity->architectures.empty()) j[side]["architectures"] = identity->architectures;
  }
  j["policies"] = {{"vocab_mismatch", m.vocab_mismatch},
                   {"architecture_mismatch", m.architecture_mismatch},
                   {"allow_non_finite", m.allow_non_finite},
                   {"missing_in_post", "recorded as removed; apply omits them"},
                   {"missing_in_base", "stored as full values"},
                   {"integer_tensors", "carried from the post model; apply keeps the new base's"}};
  json tensors = json::object();
  // Appended without the per-insertion search of ordered_json (O(n^2) for the
  // tens of thousands of tensors of large mixture-of-experts models); names are unique.
  auto& members = static_cast<json::object_t::Container&>(tensors.get_ref<json::object_t&>());
  members.reserve(m.tensors.size());
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
    members.emplace_back(t.name, std::move(e));
  }
  j["tensors"] = std::move(tensors);
  j["removed_tensors"] = m.removed_tensors;
  j["files"] = m.files;
  if (!m.combined_from.empty()) {
    j["combined_from"] = m.combined_from;
    j["combine_weights"] = m.combine_weights;
    if (!m.combine_method.empty()) j["combine_method"] = m.combine_method;
    if (m.combine_density) j["combine_density"] = *m.combine_density;
    if (m.combine_seed) j["combine_seed"] = *m.combine_seed;
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

std::string require_string(const json& obj, const char* key, const std::string& label,
                           const std::string& where) {
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
    if (!d.is_number_unsigned())
      throw_invalid(label, "dimensions must be non-negative integers", tensor, key);
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

// Optional fields: absent gives the fallback; present with the wrong
// type is an error naming the field, never a silent default or a JSON exception.
std::string field_path(const std::string& where, const char* key) {
  return where.empty() ? key : where + "." + key;
}

std::string optional_string(const json& obj, const char* key, const std::string& fallback,
                            const std::string& label, const std::string& where,
                            const std::string& tensor = {}) {
  if (!obj.contains(key)) return fallback;
  if (!obj[key].is_string()) throw_invalid(label, "must be a string", tensor, field_path(where, key));
  return obj[key].get<std::string>();
}

bool optional_bool(const json& obj, const char* key, bool fallback, const std::string& label,
                   const std::string& where) {
  if (!obj.contains(key)) return fallback;
  if (!obj[key].is_boolean()) throw_invalid(label, "must be true or false", {}, field_path(where, key));
  return obj[key].get<bool>();
}

std::uint64_t optional_unsigned(const json& obj, const char* key, std::uint64_t fallback,
                                const std::string& label, const std::string& where,
                                const std::string& tensor = {}) {
  if (!obj.contains(key)) return fallback;
  if (!obj[key].is_number_unsigned()) {
    throw_invalid(label, "must be a non-negative integer", tensor,
                  tensor.empty() ? field_path(where, key) : key);
  }
  return obj[key].get<std::uint64_t>();
}

// model_type and architectures of a side ("base" or "post"), each optional.
ModelIdentity optional_identity(const json& side, const std::string& label, const std::string& where) {
  ModelIdentity identity;
  identity.model_type = optional_string(side, "model_type", "", label, where);
  if (side.contains("architectures")) {
    const json& list = side["architectures"];
    if (!list.is_array()) throw_invalid(label, "must be an array of strings", {}, where + ".architectures");
    for (const auto& v : list) {
      if (!v.is_string()) throw_invalid(label, "must be an array of strings", {}, where + ".architectures");
      identity.architectures.push_back(v.get<std::string>());
    }
  }
  return identity;
}

// A member that, when present, must be an object; nullptr when absent.
const json* optional_object(const json& obj, const char* key, const std::string& label) {
  if (!obj.contains(key)) return nullptr;
  if (!obj[key].is_object()) throw_invalid(label, "must be an object", {}, key);
  return &obj[key];
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
  // Compared as written: a huge number must not wrap around to a supported version.
  if (!version.is_number_unsigned() ||
      version.get<std::uint64_t>() != static_cast<std::uint64_t>(kDeltaFormatVersion)) {
    throw_invalid(label, "format version " + version.dump() + " is not supported", {}, "format_version",
                  "this paramdelta reads version " + std::to_string(kDeltaFormatVersion));
  }
  m.format_version = kDeltaFormatVersion;
  m.tool = optional_string(j, "tool", "", label, "");
  m.created = optional_string(j, "created", "", label, "");
  m.operation = optional_string(j, "operation", "compute", label, "");
  const auto& enc = require(j, "encoding", label, "");
  m.encoding = require_string(enc, "name", label, "encoding");
  if (m.encoding != kEncodingExact && m.encoding != kEncodingPlain) {
    throw_invalid(label, "unknown encoding '" + m.encoding + "'", {}, "encoding.name",
                  "the delta was written by a newer paramdelta");
  }
  m.lossless = optional_bool(enc, "lossless", false, label, "encoding");
  m.exceptions_location = optional_string(enc, "exceptions", "", label, "encoding");
  m.checksum = optional_string(j, "checksum", "", label, "");
  if (const json* base = optional_object(j, "base", label)) {
    m.base_source = optional_string(*base, "source", "", label, "base");
    m.base_tensor_bytes = optional_unsigned(*base, "tensor_bytes", 0, label, "base");
    m.base_identity = optional_identity(*base, label, "base");
  }
  if (const json* post = optional_object(j, "post", label)) {
    m.post_source = optional_string(*post, "source", "", label, "post");
    m.post_tensor_bytes = optional_unsigned(*post, "tensor_bytes", 0, label, "post");
    m.post_identity = optional_identity(*post, label, "post");
  }
  if (const json* policies = optional_object(j, "policies", label)) {
    m.vocab_mismatch = optional_string(*policies, "vocab_mismatch", "error", label, "policies");
    m.allow_non_finite = optional_bool(*policies, "allow_non_finite", false, label, "policies");
    m.architecture_mismatch = optional_string(*policies, "architecture_mismatch", "error", label, "policies");
  }
  const auto& tensors = require(j, "tensors", label, "");
  if (!tensors.is_object()) throw_invalid(label, "must be an object", {}, "tensors");
  for (const auto& [name, e] : tensors.items()) {
    if (!e.is_object()) throw_invalid(label, "entry must be an object", name);
    ManifestTensor t;
    t.name = name;
    const std::string kind = optional_string(e, "kind", "", label, "", name);
    if (kind == "delta")
      t.kind = TensorKind::kDelta;
    else if (kind == "full")
      t.kind = TensorKind::kFull;
    else if (kind == "carry")
      t.kind = TensorKind::kCarry;
    else
      throw_invalid(label, "unknown kind '" + kind + "'", name, "kind");
    t.dtype = require_dtype(e, "dtype", label, name);
    t.shape = require_shape(require(e, "shape", label, "tensors." + name), label, name, "shape");
    if (e.contains("base_dtype")) t.base_dtype = require_dtype(e, "base_dtype", label, name);
    if (e.contains("post_dtype")) t.post_dtype = require_dtype(e, "post_dtype", label, name);
    if (e.contains("base_shape")) t.base_shape = require_shape(e["base_shape"], label, name, "base_shape");
    t.base_tensor = optional_string(e, "base_tensor", "", label, "", name);
    t.base_checksum = optional_string(e, "base_checksum", "", label, "", name);
    t.post_checksum = optional_string(e, "post_checksum", "", label, "", name);
    t.exceptions = optional_unsigned(e, "exceptions", 0, label, "", name);
    if (e.contains("delta_rows")) {
      t.delta_rows = optional_unsigned(e, "delta_rows", 0, label, "", name);
      if (t.shape.empty() || *t.delta_rows > t.shape[0])
        throw_invalid(label, "exceeds the tensor's rows", name, "delta_rows");
    }
    if (t.kind == TensorKind::kDelta && !t.base_dtype)
      throw_invalid(label, "missing required field", name, "base_dtype");
    m.tensors.push_back(std::move(t));
  }
  m.removed_tensors = string_list(j, "removed_tensors", label);
  m.files = string_list(j, "files", label);
  m.combined_from = string_list(j, "combined_from", label);
  if (j.contains("combine_weights")) {
    if (!j["combine_weights"].is_array())
      throw_invalid(label, "must be an array of numbers", {}, "combine_weights");
    for (const auto& w : j["combine_weights"]) {
      if (!w.is_number()) throw_invalid(label, "must be an array of numbers", {}, "combine_weights");
      m.combine_weights.push_back(w.get<double>());
    }
  }
  m.combine_method = optional_string(j, "combine_method", "", label, "");
  if (j.contains("combine_density")) {
    if (!j["combine_density"].is_number()) throw_invalid(label, "must be a number", {}, "combine_density");
    m.combine_density = j["combine_density"].get<double>();
  }
  if (j.contains("combine_seed")) m.combine_seed = optional_unsigned(j, "combine_seed", 0, label, "");
  return m;
}

}  // namespace paramdelta
