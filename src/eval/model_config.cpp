// config.json -> ModelConfig. Everything the forward pass depends on is checked
// here, so that a hostile or unusual config fails with a message naming the
// field instead of producing wrong numbers later.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numbers>
#include <optional>
#include <set>

#include "io/json_strict.h"
#include "paramdelta/error.h"
#include "paramdelta/model.h"

namespace paramdelta {

namespace {

using Json = nlohmann::json;

// The architectures whose computation this forward pass reproduces exactly.
struct SupportedArchitecture {
  const char* architecture;
  const char* model_type;
};
constexpr SupportedArchitecture kSupported[] = {
    {"LlamaForCausalLM", "llama"},
    {"MistralForCausalLM", "mistral"},
    {"Qwen2ForCausalLM", "qwen2"},
    {"LLaMAForCausalLM", "llama"},  // the name early Llama conversions used
};
constexpr const char* kSupportedList =
    "LlamaForCausalLM (llama), MistralForCausalLM (mistral), Qwen2ForCausalLM (qwen2)";

class ConfigReader {
 public:
  ConfigReader(const Json& json, const std::string& label) : json_(json), label_(label) {}

  [[noreturn]] void fail(const std::string& field, const std::string& message,
                         const std::string& hint = {}) const {
    throw Error(ErrorKind::kInvalidInput, message, ErrorContext{label_, {}, field}, hint);
  }

  bool has(const char* field) const { return json_.contains(field) && !json_.at(field).is_null(); }

  std::int64_t integer(const char* field, std::int64_t min, std::int64_t max) const {
    if (!has(field)) fail(field, "missing (required)");
    return integer_value(json_.at(field), field, min, max);
  }
  std::int64_t integer_or(const char* field, std::int64_t fallback, std::int64_t min,
                          std::int64_t max) const {
    return has(field) ? integer_value(json_.at(field), field, min, max) : fallback;
  }
  std::int64_t integer_value(const Json& value, const std::string& field, std::int64_t min,
                             std::int64_t max) const {
    // JSON writers sometimes emit 4096.0 for an integer; accept exact integral floats only.
    double as_double = 0;
    if (value.is_number_integer()) {
      if (value.is_number_unsigned() && value.get<std::uint64_t>() > static_cast<std::uint64_t>(max)) {
        fail(field, "value " + value.dump() + " is out of range [" + std::to_string(min) + ", " +
                        std::to_string(max) + "]");
      }
      std::int64_t v = value.get<std::int64_t>();
      if (v < min || v > max) {
        fail(field, "value " + std::to_string(v) + " is out of range [" + std::to_string(min) + ", " +
                        std::to_string(max) + "]");
      }
      return v;
    }
    if (value.is_number_float()) {
      as_double = value.get<double>();
      if (std::isfinite(as_double) && as_double == std::floor(as_double) &&
          as_double >= static_cast<double>(min) && as_double <= static_cast<double>(max)) {
        return static_cast<std::int64_t>(as_double);
      }
    }
    fail(field, "expected an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "], got " +
                    value.dump());
  }

  double positive_number_or(const char* field, double fallback) const {
    if (!has(field)) return fallback;
    return positive_number(json_.at(field), field);
  }
  double positive_number(const Json& value, const std::string& field) const {
    if (!value.is_number()) fail(field, "expected a number, got " + value.dump());
    double v = value.get<double>();
    if (!std::isfinite(v) || v <= 0) fail(field, "expected a finite number > 0, got " + value.dump());
    return v;
  }

  bool boolean_or(const char* field, bool fallback) const {
    if (!has(field)) return fallback;
    const Json& value = json_.at(field);
    if (!value.is_boolean()) fail(field, "expected true or false, got " + value.dump());
    return value.get<bool>();
  }

  std::string string_or(const char* field, const std::string& fallback) const {
    if (!has(field)) return fallback;
    const Json& value = json_.at(field);
    if (!value.is_string()) fail(field, "expected a string, got " + value.dump());
    return value.get<std::string>();
  }

  const Json& json() const { return json_; }

 private:
  const Json& json_;
  const std::string& label_;
};

// Limits far above any real model; they keep size arithmetic from overflowing
// before the tensors' own shapes are compared with the config.
constexpr std::int64_t kMaxDimension = std::int64_t{1} << 20;
constexpr std::int64_t kMaxVocabulary = std::int64_t{1} << 24;
constexpr std::int64_t kMaxLayers = 4096;
constexpr std::int64_t kMaxHeads = 4096;
constexpr std::int64_t kMaxPositions = std::int64_t{1} << 40;
constexpr std::int64_t kMaxTokenId = (std::int64_t{1} << 31) - 1;

void read_architecture(const ConfigReader& reader, ModelConfig& config) {
  const Json& json = reader.json();
  std::string from_architectures;
  if (reader.has("architectures")) {
    const Json& list = json.at("architectures");
    if (!list.is_array() || list.empty())
      reader.fail("architectures", "expected a non-empty list of strings");
    for (const Json& entry : list) {
      if (!entry.is_string()) reader.fail("architectures", "expected a list of strings, got " + list.dump());
      std::string name = entry.get<std::string>();
      const SupportedArchitecture* found = nullptr;
      for (const auto& s : kSupported) {
        if (name == s.architecture) found = &s;
      }
      if (found == nullptr) {
        reader.fail("architectures", "unsupported architecture '" + name + "'",
                    std::string("supported: ") + kSupportedList);
      }
      if (from_architectures.empty()) {
        config.architecture = name;
        from_architectures = found->model_type;
      }
    }
  }
  config.model_type = reader.string_or("model_type", "");
  if (config.model_type.empty()) {
    if (from_architectures.empty()) {
      reader.fail("model_type", "neither 'model_type' nor 'architectures' is given",
                  std::string("supported: ") + kSupportedList);
    }
    config.model_type = from_architectures;
  }
  bool known = false;
  for (const auto& s : kSupported) known = known || config.model_type == s.model_type;
  if (!known) {
    reader.fail("model_type", "unsupported model_type '" + config.model_type + "'",
                std::string("supported: ") + kSupportedList);
  }
  if (!from_architectures.empty() && from_architectures != config.model_type) {
    reader.fail("model_type", "model_type '" + config.model_type + "' contradicts architectures '" +
                                  config.architecture + "'");
  }
}

// One object of RoPE settings: `rope_scaling` (transformers 4) or
// `rope_parameters` (transformers 5, which also moves rope_theta inside).
struct RopeSettings {
  RopeScaling scaling;
  std::optional<double> theta;
};

bool same_scaling(const RopeScaling& a, const RopeScaling& b) {
  return a.type == b.type && a.factor == b.factor && a.low_freq_factor == b.low_freq_factor &&
         a.high_freq_factor == b.high_freq_factor &&
         a.original_max_position_embeddings == b.original_max_position_embeddings;
}

void check_partial_rotary_factor(const ConfigReader& reader, const Json& value, const std::string& field) {
  if (reader.positive_number(value, field) != 1.0) {
    reader.fail(field, "partial rotary embeddings (a factor of " + value.dump() + ") are not supported",
                "the evaluator rotates every dimension of each head");
  }
}

RopeSettings read_rope_object(const ConfigReader& reader, const Json& settings, const std::string& field,
                              bool type_required) {
  if (!settings.is_object()) reader.fail(field, "expected an object or null, got " + settings.dump());
  std::string type;
  for (const char* key : {"rope_type", "type"}) {
    if (settings.contains(key) && !settings.at(key).is_null()) {
      if (!settings.at(key).is_string()) reader.fail(field + "." + key, "expected a string");
      if (type.empty()) type = settings.at(key).get<std::string>();
    }
  }
  if (type.empty()) {
    if (type_required) reader.fail(field + ".rope_type", "missing");
    type = "default";
  }
  auto number = [&](const char* key) {
    const std::string name = field + "." + key;
    if (!settings.contains(key) || settings.at(key).is_null())
      reader.fail(name, "missing (required for '" + type + "')");
    return reader.positive_number(settings.at(key), name);
  };
  RopeSettings out;
  RopeScaling& rope = out.scaling;
  std::set<std::string> understood = {"rope_type", "type", "rope_theta", "partial_rotary_factor"};
  if (type == "default") {
    rope.type = RopeScalingType::kNone;
  } else if (type == "linear") {
    rope.type = RopeScalingType::kLinear;
    rope.factor = number("factor");
    understood.insert("factor");
  } else if (type == "llama3") {
    rope.type = RopeScalingType::kLlama3;
    rope.factor = number("factor");
    rope.low_freq_factor = number("low_freq_factor");
    rope.high_freq_factor = number("high_freq_factor");
    const std::string original = field + ".original_max_position_embeddings";
    if (!settings.contains("original_max_position_embeddings"))
      reader.fail(original, "missing (required for 'llama3')");
    rope.original_max_position_embeddings =
        reader.integer_value(settings.at("original_max_position_embeddings"), original, 1, kMaxPositions);
    if (!(rope.high_freq_factor > rope.low_freq_factor)) {
      reader.fail(field + ".high_freq_factor", "must be greater than low_freq_factor");
    }
    understood.insert({"factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"});
  } else {
    reader.fail(field + ".rope_type", "unsupported RoPE scaling type '" + type + "'",
                "supported: default, linear, llama3");
  }
  for (const auto& [key, value] : settings.items()) {
    if (value.is_null() || understood.contains(key)) continue;
    reader.fail(field + "." + key,
                "not understood for RoPE type '" + type + "', and it may change the forward pass",
                "the evaluator refuses a setting it does not implement rather than give logits that differ "
                "from transformers'");
  }
  if (settings.contains("rope_theta") && !settings.at("rope_theta").is_null()) {
    out.theta = reader.positive_number(settings.at("rope_theta"), field + ".rope_theta");
  }
  if (settings.contains("partial_rotary_factor") && !settings.at("partial_rotary_factor").is_null()) {
    check_partial_rotary_factor(reader, settings.at("partial_rotary_factor"),
                                field + ".partial_rotary_factor");
  }
  return out;
}

// The attention kind of every layer (transformers 5's layer_types): the
// evaluator runs full attention on every layer, Mistral's window aside.
void read_layer_types(const ConfigReader& reader, const ModelConfig& config) {
  if (!reader.has("layer_types")) return;
  const Json& list = reader.json().at("layer_types");
  if (!list.is_array() || list.size() != static_cast<std::size_t>(config.num_hidden_layers)) {
    reader.fail("layer_types", "expected a list of " + std::to_string(config.num_hidden_layers) +
                                   " layer types (one per layer), got " + list.dump());
  }
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (!list[i].is_string()) reader.fail("layer_types", "expected a list of strings, got " + list.dump());
    if (list[i].get<std::string>() != "full_attention") {
      reader.fail("layer_types", "layer " + std::to_string(i) + " is '" + list[i].get<std::string>() + "'",
                  "only 'full_attention' on every layer is supported");
    }
  }
}

// RoPE settings in either form; where both are given they must agree, since
// transformers 4 reads rope_scaling and rope_theta, and transformers 5 prefers
// what rope_parameters says.
void read_rope(const ConfigReader& reader, ModelConfig& config) {
  std::optional<RopeSettings> scaling, parameters;
  if (reader.has("rope_scaling")) {
    scaling = read_rope_object(reader, reader.json().at("rope_scaling"), "rope_scaling", true);
  }
  if (reader.has("rope_parameters")) {
    const Json& value = reader.json().at("rope_parameters");
    if (!value.is_object()) reader.fail("rope_parameters", "expected an object or null, got " + value.dump());
    const bool per_layer_type =
        !value.empty() && !value.contains("rope_type") && !value.contains("type") &&
        std::all_of(value.begin(), value.end(), [](const Json& v) { return v.is_object(); });
    if (per_layer_type) {
      // {"full_attention": {...}, "sliding_attention": {...}}: every layer is a
      // full-attention one (read_layer_types), so those settings are the ones used.
      if (!reader.has("layer_types")) {
        reader.fail("rope_parameters",
                    "holds settings per layer type, but no layer_types says which layer uses which");
      }
      if (!value.contains("full_attention")) {
        reader.fail("rope_parameters.full_attention", "missing (the layers are full-attention layers)");
      }
      parameters =
          read_rope_object(reader, value.at("full_attention"), "rope_parameters.full_attention", false);
    } else {
      parameters = read_rope_object(reader, value, "rope_parameters", false);
    }
  }
  if (scaling && parameters && !same_scaling(scaling->scaling, parameters->scaling)) {
    reader.fail("rope_parameters", "disagrees with rope_scaling",
                "transformers 4 reads rope_scaling and transformers 5 rope_parameters: remove the stale one");
  }
  config.rope_scaling = parameters ? parameters->scaling : scaling ? scaling->scaling : RopeScaling{};
  std::optional<double> theta;
  if (reader.has("rope_theta")) theta = reader.positive_number_or("rope_theta", 10000.0);
  for (const auto& [settings, field] : {std::pair{&scaling, "rope_scaling.rope_theta"},
                                        std::pair{&parameters, "rope_parameters.rope_theta"}}) {
    if (!*settings || !(*settings)->theta) continue;
    if (theta && *theta != *(*settings)->theta) {
      char text[96];
      std::snprintf(text, sizeof text, "is %.17g but rope_theta is %.17g", *(*settings)->theta, *theta);
      reader.fail(field, text, "transformers 4 and 5 would use different values: remove the stale one");
    }
    theta = (*settings)->theta;
  }
  config.rope_theta = theta.value_or(10000.0);
  if (reader.has("partial_rotary_factor")) {
    check_partial_rotary_factor(reader, reader.json().at("partial_rotary_factor"), "partial_rotary_factor");
  }
}

// Fields read above, whose meaning the forward pass implements or checks.
constexpr const char* kUnderstoodFields[] = {
    "architectures",
    "model_type",
    "vocab_size",
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "max_position_embeddings",
    "rms_norm_eps",
    "rope_theta",
    "rope_scaling",
    "rope_parameters",
    "partial_rotary_factor",
    "hidden_act",
    "tie_word_embeddings",
    "attention_bias",
    "mlp_bias",
    "use_sliding_window",
    "sliding_window",
    "max_window_layers",
    "layer_types",
    "use_mrope",
    "bos_token_id",
    "eos_token_id",
};

// Fields that do not change the logits: bookkeeping, training-only settings
// (dropout, initialisation, tensor-parallel slicing of the same product),
// generation defaults, token ids of other roles and task heads.
constexpr const char* kInertFields[] = {
    "_name_or_path",
    "transformers_version",
    "torch_dtype",
    "dtype",
    "use_cache",
    "pad_token_id",
    "sep_token_id",
    "decoder_start_token_id",
    "initializer_range",
    "attention_dropout",
    "hidden_dropout",
    "embd_pdrop",
    "resid_pdrop",
    "attn_pdrop",
    "pretraining_tp",
    "output_attentions",
    "output_hidden_states",
    "return_dict",
    "torchscript",
    "use_bfloat16",
    "tf_legacy_loss",
    "pruned_heads",
    "chunk_size_feed_forward",
    "is_decoder",
    "is_encoder_decoder",
    "add_cross_attention",
    "cross_attention_hidden_size",
    "tie_encoder_decoder",
    "id2label",
    "label2id",
    "num_labels",
    "problem_type",
    "finetuning_task",
    "task_specific_params",
    "tokenizer_class",
    "prefix",
    "max_length",
    "min_length",
    "do_sample",
    "early_stopping",
    "num_beams",
    "num_beam_groups",
    "diversity_penalty",
    "temperature",
    "top_k",
    "top_p",
    "typical_p",
    "repetition_penalty",
    "length_penalty",
    "no_repeat_ngram_size",
    "encoder_no_repeat_ngram_size",
    "bad_words_ids",
    "num_return_sequences",
    "output_scores",
    "return_dict_in_generate",
    "forced_bos_token_id",
    "forced_eos_token_id",
    "remove_invalid_values",
    "exponential_decay_length_penalty",
    "suppress_tokens",
    "begin_suppress_tokens",
    "auto_map",
    "custom_pipelines",
    "_attn_implementation",
    "_attn_implementation_autoset",
    "attn_implementation",
    // Written by other tools (nanotron's SmolLM configs, early Llama
    // conversions); transformers ignores them.
    "is_llama_config",
    "rope_interleaved",
    "max_sequence_length",
};

// Every other field is refused: an unknown one may change the forward pass
// (a soft cap on the logits, a norm on queries and keys...), and ignoring it
// would give numbers that differ from transformers' without a word.
void refuse_unknown_fields(const ConfigReader& reader) {
  for (const auto& [key, value] : reader.json().items()) {
    if (value.is_null()) continue;
    bool known = false;
    for (const char* f : kUnderstoodFields) known = known || key == f;
    for (const char* f : kInertFields) known = known || key == f;
    if (!known) {
      reader.fail(
          key, "not understood by the evaluator, and it may change the forward pass",
          std::string("the evaluator refuses a field it does not implement rather than give logits that "
                      "differ from transformers'; it runs ") +
              kSupportedList);
    }
  }
}

std::vector<std::int32_t> token_ids(const ConfigReader& reader, const char* field) {
  std::vector<std::int32_t> ids;
  if (!reader.has(field)) return ids;
  const Json& value = reader.json().at(field);
  if (value.is_array()) {
    for (const Json& entry : value)
      ids.push_back(static_cast<std::int32_t>(reader.integer_value(entry, field, 0, kMaxTokenId)));
  } else {
    ids.push_back(static_cast<std::int32_t>(reader.integer_value(value, field, 0, kMaxTokenId)));
  }
  return ids;
}

}  // namespace

ModelConfig parse_model_config(std::string_view json_text, const std::string& label) {
  Json json = parse_json_strict(json_text, label);
  if (!json.is_object()) throw_invalid(label, "expected a JSON object");
  ConfigReader reader(json, label);
  ModelConfig config;
  read_architecture(reader, config);
  refuse_unknown_fields(reader);

  config.vocab_size = reader.integer("vocab_size", 1, kMaxVocabulary);
  config.hidden_size = reader.integer("hidden_size", 1, kMaxDimension);
  config.intermediate_size = reader.integer("intermediate_size", 1, kMaxDimension);
  config.num_hidden_layers = reader.integer("num_hidden_layers", 1, kMaxLayers);
  config.num_attention_heads = reader.integer("num_attention_heads", 1, kMaxHeads);
  config.num_key_value_heads =
      reader.integer_or("num_key_value_heads", config.num_attention_heads, 1, config.num_attention_heads);
  if (config.num_attention_heads % config.num_key_value_heads != 0) {
    reader.fail("num_key_value_heads", "num_attention_heads (" + std::to_string(config.num_attention_heads) +
                                           ") is not a multiple of num_key_value_heads (" +
                                           std::to_string(config.num_key_value_heads) + ")");
  }
  if (reader.has("head_dim")) {
    config.head_dim = reader.integer("head_dim", 2, kMaxDimension);
  } else {
    if (config.hidden_size % config.num_attention_heads != 0) {
      reader.fail("num_attention_heads",
                  "hidden_size (" + std::to_string(config.hidden_size) +
                      ") is not a multiple of num_attention_heads and no head_dim is given");
    }
    config.head_dim = config.hidden_size / config.num_attention_heads;
  }
  if (config.head_dim % 2 != 0) {
    reader.fail("head_dim",
                "head dimension " + std::to_string(config.head_dim) + " is odd; RoPE rotates pairs");
  }
  if (config.q_dim() > kMaxDimension * 4)
    reader.fail("head_dim", "num_attention_heads * head_dim is implausibly large");

  const std::int64_t default_positions = config.model_type == "qwen2"     ? 32768
                                         : config.model_type == "mistral" ? 131072
                                                                          : 2048;
  config.max_position_embeddings =
      reader.integer_or("max_position_embeddings", default_positions, 1, kMaxPositions);
  config.rms_norm_eps = reader.positive_number_or("rms_norm_eps", 1e-6);
  read_rope(reader, config);
  read_layer_types(reader, config);
  if (reader.boolean_or("use_mrope", false)) {
    reader.fail("use_mrope", "multimodal RoPE is not supported", "the evaluator runs text-only models");
  }

  std::string activation = reader.string_or("hidden_act", "silu");
  if (activation != "silu" && activation != "swish") {
    reader.fail("hidden_act", "unsupported activation '" + activation + "'", "supported: silu");
  }
  config.tie_word_embeddings = reader.boolean_or("tie_word_embeddings", false);

  if (config.model_type == "qwen2") {
    config.qkv_bias = true;  // Qwen2's attention always has q/k/v biases and no output bias
    if (reader.boolean_or("use_sliding_window", false)) {
      reader.fail("use_sliding_window", "Qwen2 sliding-window attention is not supported");
    }
  } else if (config.model_type == "llama") {
    bool attention_bias = reader.boolean_or("attention_bias", false);
    config.qkv_bias = attention_bias;
    config.output_bias = attention_bias;
    config.mlp_bias = reader.boolean_or("mlp_bias", false);
  }
  if (config.model_type == "mistral" && reader.has("sliding_window")) {
    config.sliding_window = reader.integer("sliding_window", 1, kMaxPositions);
  }

  auto bos = token_ids(reader, "bos_token_id");
  if (bos.size() > 1) reader.fail("bos_token_id", "expected one token id");
  if (!bos.empty()) config.bos_token_id = bos.front();
  config.eos_token_ids = token_ids(reader, "eos_token_id");
  return config;
}

std::uint64_t ModelConfig::parameter_count() const {
  auto u = [](std::int64_t v) { return static_cast<std::uint64_t>(v); };
  std::uint64_t per_layer = u(hidden_size) * u(q_dim() + 2 * kv_dim()) + u(q_dim()) * u(hidden_size) +
                            3 * u(hidden_size) * u(intermediate_size) + 2 * u(hidden_size);
  if (qkv_bias) per_layer += u(q_dim() + 2 * kv_dim());
  if (output_bias) per_layer += u(hidden_size);
  if (mlp_bias) per_layer += 2 * u(intermediate_size) + u(hidden_size);
  std::uint64_t embeddings = u(vocab_size) * u(hidden_size);
  return embeddings * (tie_word_embeddings ? 1 : 2) + u(num_hidden_layers) * per_layer + u(hidden_size);
}

std::vector<double> rope_inverse_frequencies(const ModelConfig& config) {
  const std::size_t pairs = static_cast<std::size_t>(config.head_dim / 2);
  std::vector<double> inv_freq(pairs);
  for (std::size_t i = 0; i < pairs; ++i) {
    inv_freq[i] =
        1.0 / std::pow(config.rope_theta, static_cast<double>(2 * i) / static_cast<double>(config.head_dim));
  }
  const RopeScaling& rope = config.rope_scaling;
  if (rope.type == RopeScalingType::kLinear) {
    for (double& f : inv_freq) f /= rope.factor;
  } else if (rope.type == RopeScalingType::kLlama3) {
    // Llama 3.1: long wavelengths (low frequencies) are slowed down by `factor`,
    // short ones are kept, and the band in between is interpolated smoothly.
    const double original = static_cast<double>(rope.original_max_position_embeddings);
    const double low_freq_wavelen = original / rope.low_freq_factor;
    const double high_freq_wavelen = original / rope.high_freq_factor;
    for (double& f : inv_freq) {
      const double wavelen = 2 * std::numbers::pi / f;
      if (wavelen < high_freq_wavelen) continue;
      if (wavelen > low_freq_wavelen) {
        f /= rope.factor;
        continue;
      }
      const double smooth =
          (original / wavelen - rope.low_freq_factor) / (rope.high_freq_factor - rope.low_freq_factor);
      f = (1 - smooth) * f / rope.factor + smooth * f;
    }
  }
  return inv_freq;
}

}  // namespace paramdelta
