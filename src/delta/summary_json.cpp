// JSON renderings of operation results, shared by the CLI and bindings.
#include <nlohmann/json.hpp>

#include "paramdelta/operations.h"

namespace paramdelta {

using json = nlohmann::ordered_json;

namespace {
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
  j["notes"] = s.notes;
  return j;
}
}  // namespace

std::string to_json(const OperationSummary& summary) { return summary_object(summary).dump(2); }

std::string to_json(const VerifyReport& report) {
  json j = summary_object(report.summary);
  j["exact"] = report.exact();
  j["total_elements"] = report.total_elements;
  j["differing_elements"] = report.total_differing;
  j["base_matches_manifest"] = report.base_matches_manifest;
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
  if (!r.manifest_json.empty()) j["manifest"] = json::parse(r.manifest_json);
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
