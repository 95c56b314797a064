// JSON renderings of operation results, shared by the CLI and bindings.
#include <cmath>
#include <nlohmann/json.hpp>

#include "paramdelta/error.h"
#include "paramdelta/operations.h"

namespace paramdelta {

using json = nlohmann::ordered_json;

namespace {

// Notes as every front end shows them in JSON: options in the library's words.
json notes_array(const std::vector<std::string>& notes) {
  json j = json::array();
  for (const auto& note : notes) j.push_back(spell_options(note));
  return j;
}

json summary_object(const OperationSummary& s) {
  json j;
  j["operation"] = s.operation;
  if (!s.output.empty()) j["output"] = s.output;
  j["tensors"] = s.tensors;
  j["elements"] = s.elements;
  j["bytes_read"] = s.bytes_read;
  j["bytes_written"] = s.bytes_written;
  j["seconds"] = s.seconds;
  j["throughput_gb_per_s"] = s.seconds > 0 ? (s.bytes_read + s.bytes_written) / s.seconds / 1e9 : 0.0;
  j["threads"] = s.threads;
  if (!s.encoding.empty()) {
    j["encoding"] = s.encoding;
    j["lossless"] = s.lossless;
  }
  if (s.operation == "compute") {
    j["exception_elements"] = s.exception_elements;
    j["post_bytes"] = s.post_bytes;
    j["delta_to_post_size"] = s.post_bytes ? static_cast<double>(s.bytes_written) / s.post_bytes : 0.0;
  }
  j["notes"] = notes_array(s.notes);
  return j;
}
}  // namespace

std::string to_json(const OperationSummary& summary) { return summary_object(summary).dump(2); }

std::string to_json(const VerifyReport& report) {
  json j = summary_object(report.summary);
  j["exact"] = report.exact();
  j["total_elements"] = report.total_elements;
  j["differing_elements"] = report.total_differing;
  j["base_matches_manifest"] =
      report.base_matches_manifest ? json(*report.base_matches_manifest) : json(nullptr);
  json tensors = json::array();
  for (const auto& t : report.tensors) {
    json e{{"name", t.name},
           {"elements", t.elements},
           {"differing", t.differing},
           {"max_abs_difference", t.max_abs_difference}};
    if (!t.note.empty()) e["note"] = t.note;
    tensors.push_back(std::move(e));
  }
  j["tensors"] = std::move(tensors);
  return j.dump(2);
}

namespace {
// Infinite ratios (a zero delta against a non-zero vector) become null.
json number_or_null(double value) { return std::isfinite(value) ? json(value) : json(nullptr); }

json comparison_object(const VectorComparison& c) {
  return json{{"elements", c.elements}, {"delta_norm", c.delta_norm},
              {"norm", c.norm},         {"ratio", number_or_null(c.ratio)},
              {"cosine", c.cosine},     {"opposite_signs", c.opposite_signs},
              {"skipped", c.skipped}};
}

json analysis_object(const TensorAnalysis& t) {
  json j{{"name", t.name},
         {"elements", t.elements},
         {"delta_norm", t.delta_norm},
         {"max_abs_delta", t.max_abs_delta},
         {"zero_elements", t.zero_elements},
         {"non_finite_elements", t.non_finite_elements}};
  if (t.base) {
    j["base"] = comparison_object(*t.base);
    j["relative_change"] = number_or_null(t.relative_change());
  }
  if (t.drift) j["drift"] = comparison_object(*t.drift);
  if (t.other) j["other_delta"] = comparison_object(*t.other);
  if (!t.notes.empty()) j["notes"] = notes_array(t.notes);
  return j;
}
}  // namespace

std::string to_json(const AnalyzeReport& report) {
  json j = summary_object(report.summary);
  if (report.base_matches_manifest) j["base_matches_manifest"] = *report.base_matches_manifest;
  j["total"] = analysis_object(report.total);
  json blocks = json::array();
  for (const auto& b : report.blocks) blocks.push_back(analysis_object(b));
  j["blocks"] = std::move(blocks);
  json tensors = json::array();
  for (const auto& t : report.tensors) tensors.push_back(analysis_object(t));
  j["tensors"] = std::move(tensors);
  return j.dump(2);
}

std::string to_json(const InspectReport& r) {
  json j;
  j["path"] = r.path;
  j["kind"] = r.kind;
  j["shards"] = r.shards;
  j["tensor_count"] = r.tensors.size();
  j["total_bytes"] = r.total_bytes;
  j["parameters"] = r.parameters;
  json meta = json::object();
  for (const auto& [k, v] : r.metadata) meta[k] = v;
  j["metadata"] = std::move(meta);
  j["files"] = r.files;
  if (r.kind == "delta")
    j["manifest"] = r.manifest_json.empty() ? json(nullptr) : json::parse(r.manifest_json);
  j["notes"] = notes_array(r.notes);
  j["quantization"] = r.quantization.empty() ? json(nullptr) : json(r.quantization);
  json tensors = json::array();
  for (const auto& t : r.tensors) {
    json e{{"name", t.name}, {"dtype", t.dtype}, {"shape", t.shape}, {"bytes", t.bytes}, {"file", t.file}};
    if (!t.delta_kind.empty()) {
      e["kind"] = t.delta_kind;
      e["exceptions"] = t.exceptions;
    }
    tensors.push_back(std::move(e));
  }
  j["tensors"] = std::move(tensors);
  j["warnings"] = r.warnings;
  return j.dump(2);
}

}  // namespace paramdelta
