#include "io/quantization.h"

#include <nlohmann/json.hpp>
#include <string_view>

#include "io/json_strict.h"

namespace paramdelta {

namespace {

// Tensors that exist only beside quantized weights, by the last component of
// their name (or its ending), and the method each belongs to.
struct Companion {
  std::string_view ending;  // of the last name component
  bool whole;               // the whole component, or only its end
  const char* method;
  const char* what;
};

constexpr Companion kCompanions[] = {
    {"_scale_inv", false, "fp8", "holds the inverse scales of block-scaled FP8 weights"},
    {"scales", true, "group-wise", "holds the per-group scales of quantized weights"},
    {"qweight", true, "gptq/awq", "holds packed integer weights"},
    {"qzeros", true, "gptq/awq", "holds the zero points of packed integer weights"},
    {"g_idx", true, "gptq", "holds the group index of packed integer weights"},
    {"SCB", true, "bitsandbytes", "holds the scales of int8 weights"},
    {"absmax", true, "bitsandbytes", "holds the scales of 4-bit weights"},
    {"quant_map", true, "bitsandbytes", "holds the code book of 4-bit weights"},
    {"weight_scale", true, "compressed-tensors", "holds the scales of quantized weights"},
    {"weight_packed", true, "compressed-tensors", "holds packed integer weights"},
    {"weight_zero_point", true, "compressed-tensors", "holds the zero points of quantized weights"},
    {"weight_global_scale", true, "compressed-tensors", "holds the global scale of FP4 weights"},
    {"input_scale", true, "compressed-tensors", "holds the activation scales of a quantized layer"},
};

const Companion* companion_of(const Checkpoint& checkpoint, std::string_view name) {
  // MXFP4 (gpt-oss): "<weight>_blocks" beside "<weight>_scales".
  if (name.ends_with("_scales") &&
      checkpoint.find(std::string(name.substr(0, name.size() - 7)) + "_blocks") != nullptr) {
    static constexpr Companion kMxfp4{"", false, "mxfp4", "holds the block scales of MXFP4 weights"};
    return &kMxfp4;
  }
  // bitsandbytes 4-bit: "<weight>.quant_state.bitsandbytes__nf4"
  if (name.find(".quant_state.") != std::string_view::npos) {
    static constexpr Companion kQuantState{"", false, "bitsandbytes", "holds the state of 4-bit weights"};
    return &kQuantState;
  }
  const auto dot = name.rfind('.');
  const std::string_view last = dot == std::string_view::npos ? name : name.substr(dot + 1);
  for (const auto& c : kCompanions) {
    if (c.whole ? last == c.ending : (last.size() > c.ending.size() && last.ends_with(c.ending))) return &c;
  }
  return nullptr;
}

// config.json keys that declare a quantization: transformers' own, the older
// name of compressed-tensors' and MLX's.
constexpr const char* kConfigKeys[] = {"quantization_config", "compression_config", "quantization"};

std::optional<Quantization> from_config(const Checkpoint& checkpoint, const std::string& config_name) {
  const std::optional<std::string> text = checkpoint.read_text_file(config_name);
  if (!text) return std::nullopt;
  const std::string label = (checkpoint.root() / config_name).string();
  const nlohmann::json config = parse_json_strict(*text, label);
  if (!config.is_object()) return std::nullopt;
  for (const char* key : kConfigKeys) {
    if (!config.contains(key) || config.at(key).is_null()) continue;
    const nlohmann::json& value = config.at(key);
    std::string method = key == std::string_view("quantization") ? "mlx" : "unnamed";
    if (key == std::string_view("compression_config")) method = "compressed-tensors";
    if (value.is_object() && value.contains("quant_method") && value.at("quant_method").is_string()) {
      method = value.at("quant_method").get<std::string>();
    }
    return Quantization{method, {}, ErrorContext{label, {}, key}};
  }
  return std::nullopt;
}

}  // namespace

std::optional<Quantization> find_quantization(const Checkpoint& checkpoint, const std::string& config_name) {
  if (auto found = from_config(checkpoint, config_name)) return found;
  for (const auto& ref : checkpoint.tensors()) {
    if (const Companion* c = companion_of(checkpoint, ref.name())) {
      return Quantization{c->method, std::string("this tensor ") + c->what,
                          ErrorContext{checkpoint.shard(ref.shard).path().string(), ref.name(), {}}};
    }
  }
  return std::nullopt;
}

void refuse_quantized(const Checkpoint& checkpoint, const std::string& config_name) {
  const std::optional<Quantization> found = find_quantization(checkpoint, config_name);
  if (!found) return;
  throw Error(ErrorKind::kInvalidInput,
              "the model is quantized (method '" + found->method + "'" +
                  (found->evidence.empty() ? "" : "; " + found->evidence) +
                  "): its weights are codes that need their scales, and paramdelta reads only unquantized "
                  "floating-point weights",
              found->where,
              "use the model's unquantized (bf16, fp16 or fp32) release, or dequantize it first");
}

}  // namespace paramdelta
