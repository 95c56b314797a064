#include <algorithm>
#include <filesystem>

#include "delta/delta_source.h"
#include "delta/manifest.h"
#include "delta/model_files.h"
#include "io/quantization.h"
#include "paramdelta/checkpoint.h"
#include "paramdelta/error.h"
#include "paramdelta/location.h"
#include "paramdelta/operations.h"

namespace paramdelta {

namespace fs = std::filesystem;

InspectReport inspect(const std::string& spec) {
  const ResolvedLocation loc = resolve_location(spec);
  InspectReport report;
  report.path = loc.description;
  std::optional<DeltaSource> delta;
  std::optional<Checkpoint> model;
  const Checkpoint* ckpt;
  if (probe_delta(loc.path, /*given_as_delta=*/false).form != DeltaForm::kNone) {
    delta = DeltaSource::open(loc.path);
    ckpt = &delta->tensors();
    report.kind = "delta";
    if (delta->has_manifest()) report.manifest_json = manifest_to_json(delta->manifest());
    report.notes = delta->notes();
  } else {
    model = Checkpoint::open(loc.path);
    ckpt = &*model;
    report.kind = "model";
    report.warnings = model->warnings();
    // A quantized model is described like any other, and said to be one; a
    // config.json that cannot be read is a warning here, not a failure.
    try {
      if (auto quantization = find_quantization(*model)) report.quantization = quantization->method;
    } catch (const Error& e) {
      report.warnings.push_back(format_error_line(e));
    }
  }
  report.shards = ckpt->shard_count();
  for (const auto& ref : ckpt->tensors()) {
    InspectTensor t;
    t.name = ref.name();
    t.dtype = std::string(dtype_name(ref.info->dtype));
    t.shape = ref.info->shape;
    t.bytes = ref.info->nbytes();
    t.file = ckpt->shard(ref.shard).path().filename().string();
    if (delta) {
      if (t.name.find("::exceptions.") != std::string::npos) continue;
      if (const ManifestTensor* e = delta->manifest().find(t.name)) {
        t.delta_kind = tensor_kind_name(e->kind);
        t.exceptions = e->exceptions;
      }
    }
    report.total_bytes += t.bytes;
    if (is_floating(ref.info->dtype)) report.parameters += ref.info->numel();
    report.tensors.push_back(std::move(t));
  }
  for (const auto& [k, v] : ckpt->metadata()) {
    if (k != kManifestMetadataKey) report.metadata.emplace_back(k, v);
  }
  if (!ckpt->is_single_file()) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(ckpt->root(), ec)) {
      const std::string name = entry.path().filename().string();
      if (entry.is_regular_file() && entry.path().extension() != ".safetensors" && name.rfind(".", 0) != 0 &&
          name.find(".safetensors.index.json") == std::string::npos) {
        report.files.push_back(name);
      }
    }
    std::sort(report.files.begin(), report.files.end());
  }
  return report;
}

}  // namespace paramdelta
