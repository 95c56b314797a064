#include "eval/model_weights.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "io/json_strict.h"
#include "io/quantization.h"
#include "paramdelta/checkpoint.h"
#include "paramdelta/error.h"

namespace paramdelta::eval {

namespace {

std::string shape_text(const std::vector<std::uint64_t>& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

// One tensor the forward pass needs and where its values go.
struct Wanted {
  std::string name;
  std::vector<std::uint64_t> shape;
  std::vector<float>* destination;
  std::size_t offset;  // in floats, inside destination (stacked matrices)
  const TensorRef* ref = nullptr;
};

std::uint64_t u(std::int64_t v) { return static_cast<std::uint64_t>(v); }

// generation_config.json often lists more end-of-sequence tokens than
// config.json (Llama-3 instruct models end turns with <|eot_id|>).
void merge_generation_config(const Checkpoint& checkpoint, ModelConfig& config) {
  std::optional<std::string> text = checkpoint.read_text_file("generation_config.json");
  if (!text) return;
  const std::string label = (checkpoint.root() / "generation_config.json").string();
  nlohmann::json json = parse_json_strict(*text, label);
  if (!json.is_object() || !json.contains("eos_token_id") || json.at("eos_token_id").is_null()) return;
  const nlohmann::json& value = json.at("eos_token_id");
  std::vector<nlohmann::json> entries =
      value.is_array() ? value.get<std::vector<nlohmann::json>>() : std::vector<nlohmann::json>{value};
  for (const nlohmann::json& entry : entries) {
    if (!entry.is_number_integer() || entry.get<std::int64_t>() < 0 ||
        entry.get<std::int64_t>() > INT32_MAX) {
      throw Error(ErrorKind::kInvalidInput, "expected token ids, got " + value.dump(),
                  ErrorContext{label, {}, "eos_token_id"});
    }
    auto id = static_cast<std::int32_t>(entry.get<std::int64_t>());
    if (std::find(config.eos_token_ids.begin(), config.eos_token_ids.end(), id) ==
        config.eos_token_ids.end()) {
      config.eos_token_ids.push_back(id);
    }
  }
}

}  // namespace

ModelWeights load_model_weights(const std::filesystem::path& path, ModelConfig& config,
                                std::vector<std::string>& notes) {
  Checkpoint checkpoint = Checkpoint::open(path);
  refuse_quantized(checkpoint);
  const std::string config_label = (checkpoint.root() / "config.json").string();
  std::optional<std::string> config_text = checkpoint.read_text_file("config.json");
  if (!config_text) {
    throw Error(ErrorKind::kUsage, "no config.json beside the weights", ErrorContext{config_label, {}, {}},
                "evaluation needs the model's Hugging Face config.json");
  }
  config = parse_model_config(*config_text, config_label);
  merge_generation_config(checkpoint, config);

  const std::uint64_t hidden = u(config.hidden_size);
  const std::uint64_t inter = u(config.intermediate_size);
  const std::uint64_t q_dim = u(config.q_dim());
  const std::uint64_t kv_dim = u(config.kv_dim());
  const std::uint64_t vocab = u(config.vocab_size);

  const TensorRef* lm_head_ref = checkpoint.find("lm_head.weight");
  bool tied = config.tie_word_embeddings || lm_head_ref == nullptr;
  if (!config.tie_word_embeddings && lm_head_ref == nullptr) {
    notes.push_back("lm_head.weight is absent: the output layer reuses the input embeddings (tied)");
  }
  if (config.tie_word_embeddings && lm_head_ref != nullptr) {
    notes.push_back(
        "tie_word_embeddings is true: lm_head.weight is ignored in favour of the input embeddings");
  }
  config.tie_word_embeddings = tied;

  ModelWeights weights;
  weights.layers.resize(static_cast<std::size_t>(config.num_hidden_layers));
  std::vector<Wanted> wanted;
  wanted.push_back({"model.embed_tokens.weight", {vocab, hidden}, &weights.embedding, 0});
  wanted.push_back({"model.norm.weight", {hidden}, &weights.final_norm, 0});
  if (!tied) wanted.push_back({"lm_head.weight", {vocab, hidden}, &weights.lm_head, 0});
  for (std::size_t i = 0; i < weights.layers.size(); ++i) {
    LayerWeights& layer = weights.layers[i];
    const std::string p = "model.layers." + std::to_string(i) + ".";
    wanted.push_back({p + "input_layernorm.weight", {hidden}, &layer.input_norm, 0});
    wanted.push_back({p + "post_attention_layernorm.weight", {hidden}, &layer.post_norm, 0});
    wanted.push_back({p + "self_attn.q_proj.weight", {q_dim, hidden}, &layer.qkv, 0});
    wanted.push_back({p + "self_attn.k_proj.weight", {kv_dim, hidden}, &layer.qkv, q_dim * hidden});
    wanted.push_back(
        {p + "self_attn.v_proj.weight", {kv_dim, hidden}, &layer.qkv, (q_dim + kv_dim) * hidden});
    wanted.push_back({p + "self_attn.o_proj.weight", {hidden, q_dim}, &layer.output, 0});
    wanted.push_back({p + "mlp.gate_proj.weight", {inter, hidden}, &layer.gate_up, 0});
    wanted.push_back({p + "mlp.up_proj.weight", {inter, hidden}, &layer.gate_up, inter * hidden});
    wanted.push_back({p + "mlp.down_proj.weight", {hidden, inter}, &layer.down, 0});
    if (config.qkv_bias) {
      wanted.push_back({p + "self_attn.q_proj.bias", {q_dim}, &layer.qkv_bias, 0});
      wanted.push_back({p + "self_attn.k_proj.bias", {kv_dim}, &layer.qkv_bias, q_dim});
      wanted.push_back({p + "self_attn.v_proj.bias", {kv_dim}, &layer.qkv_bias, q_dim + kv_dim});
    }
    if (config.output_bias) wanted.push_back({p + "self_attn.o_proj.bias", {hidden}, &layer.output_bias, 0});
    if (config.mlp_bias) {
      wanted.push_back({p + "mlp.gate_proj.bias", {inter}, &layer.gate_up_bias, 0});
      wanted.push_back({p + "mlp.up_proj.bias", {inter}, &layer.gate_up_bias, inter});
      wanted.push_back({p + "mlp.down_proj.bias", {hidden}, &layer.down_bias, 0});
    }
  }

  // Every check before any allocation sized by the config: a config that
  // claims huge dimensions fails here, against the tensors that really exist.
  const std::string weights_label = checkpoint.path().string();
  for (Wanted& w : wanted) {
    w.ref = checkpoint.find(w.name);
    if (w.ref == nullptr) {
      throw Error(ErrorKind::kMismatch,
                  "missing tensor required by config.json (model_type '" + config.model_type + "')",
                  ErrorContext{weights_label, w.name, {}});
    }
    const TensorInfo& info = *w.ref->info;
    if (!is_floating(info.dtype)) {
      throw Error(ErrorKind::kInvalidInput,
                  "dtype " + std::string(dtype_name(info.dtype)) + " is not a floating-point type",
                  ErrorContext{weights_label, w.name, {}}, "quantised checkpoints are not supported");
    }
    if (info.shape != w.shape) {
      throw Error(ErrorKind::kMismatch,
                  "shape " + shape_text(info.shape) + " does not match config.json, which implies " +
                      shape_text(w.shape),
                  ErrorContext{weights_label, w.name, {}});
    }
  }
  // Stacked matrices are allocated up front and filled part by part.
  for (LayerWeights& layer : weights.layers) {
    layer.qkv.resize((q_dim + 2 * kv_dim) * hidden);
    layer.gate_up.resize(2 * inter * hidden);
    if (config.qkv_bias) layer.qkv_bias.resize(q_dim + 2 * kv_dim);
    if (config.mlp_bias) layer.gate_up_bias.resize(2 * inter);
  }

  for (const Wanted& w : wanted) {
    std::vector<float> values = read_tensor_as_f32(checkpoint, *w.ref);
    if (values.size() != w.ref->info->numel()) {
      throw Error(ErrorKind::kInternal, "tensor reader returned " + std::to_string(values.size()) + " values",
                  ErrorContext{weights_label, w.name, {}});
    }
    auto bad = std::find_if(values.begin(), values.end(), [](float v) { return !std::isfinite(v); });
    if (bad != values.end()) {
      throw Error(
          ErrorKind::kNonFinite,
          "weight " + std::to_string(bad - values.begin()) + " is " + (std::isnan(*bad) ? "NaN" : "infinite"),
          ErrorContext{weights_label, w.name, {}}, "the checkpoint is corrupt");
    }
    if (w.destination->empty() && w.offset == 0) {
      *w.destination = std::move(values);
    } else {
      std::memcpy(w.destination->data() + w.offset, values.data(), values.size() * sizeof(float));
    }
  }
  return weights;
}

}  // namespace paramdelta::eval
