// Tiny random-weight Hugging Face model directories for the evaluation tests,
// written byte by byte (F32 safetensors + config.json), so that tests can also
// break them on purpose.
#pragma once

#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "support/test_support.h"

namespace paramdelta::testing {

inline nlohmann::json tiny_llama_config() {
  return nlohmann::json{
      {"architectures", {"LlamaForCausalLM"}},
      {"model_type", "llama"},
      {"vocab_size", 50},
      {"hidden_size", 16},
      {"intermediate_size", 24},
      {"num_hidden_layers", 2},
      {"num_attention_heads", 4},
      {"num_key_value_heads", 2},
      {"max_position_embeddings", 128},
      {"rms_norm_eps", 1e-5},
      {"rope_theta", 10000.0},
      {"hidden_act", "silu"},
      {"tie_word_embeddings", false},
      {"eos_token_id", 2},
  };
}

struct TensorData {
  std::vector<std::uint64_t> shape;
  std::vector<float> values;
  std::string dtype = "F32";  // F32 only, unless raw bytes are given
  std::string raw;            // overrides values when not empty
};

using TensorMap = std::map<std::string, TensorData>;

// The tensors a Llama-family config asks for, with random values.
inline TensorMap tiny_llama_tensors(const nlohmann::json& config, unsigned seed = 1) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const std::uint64_t hidden = config["hidden_size"], inter = config["intermediate_size"],
                      vocab = config["vocab_size"];
  const std::uint64_t heads = config["num_attention_heads"], kv_heads = config["num_key_value_heads"];
  const std::uint64_t head_dim =
      config.contains("head_dim") ? config["head_dim"].get<std::uint64_t>() : hidden / heads;
  TensorMap tensors;
  auto add = [&](const std::string& name, std::vector<std::uint64_t> shape, float scale,
                 float centre = 0.0f) {
    TensorData t;
    t.shape = shape;
    std::uint64_t n = 1;
    for (auto d : shape) n *= d;
    t.values.resize(n);
    for (auto& v : t.values) v = centre + scale * normal(rng);
    tensors[name] = std::move(t);
  };
  const float s = 1.0f / std::sqrt(static_cast<float>(hidden));
  add("model.embed_tokens.weight", {vocab, hidden}, 1.0f);
  add("model.norm.weight", {hidden}, 0.1f, 1.0f);
  if (!config.value("tie_word_embeddings", false)) add("lm_head.weight", {vocab, hidden}, 2 * s);
  for (int l = 0; l < config["num_hidden_layers"].get<int>(); ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    add(p + "input_layernorm.weight", {hidden}, 0.1f, 1.0f);
    add(p + "post_attention_layernorm.weight", {hidden}, 0.1f, 1.0f);
    add(p + "self_attn.q_proj.weight", {heads * head_dim, hidden}, 2 * s);
    add(p + "self_attn.k_proj.weight", {kv_heads * head_dim, hidden}, 2 * s);
    add(p + "self_attn.v_proj.weight", {kv_heads * head_dim, hidden}, s);
    add(p + "self_attn.o_proj.weight", {hidden, heads * head_dim}, s);
    add(p + "mlp.gate_proj.weight", {inter, hidden}, s);
    add(p + "mlp.up_proj.weight", {inter, hidden}, s);
    add(p + "mlp.down_proj.weight", {hidden, inter}, 1.0f / std::sqrt(static_cast<float>(inter)));
    if (config.value("model_type", "") == "qwen2") {
      add(p + "self_attn.q_proj.bias", {heads * head_dim}, 0.5f);
      add(p + "self_attn.k_proj.bias", {kv_heads * head_dim}, 0.5f);
      add(p + "self_attn.v_proj.bias", {kv_heads * head_dim}, 0.5f);
    }
  }
  return tensors;
}

// Writes model.safetensors and config.json into `dir`.
inline void write_tiny_model(const std::filesystem::path& dir, const nlohmann::json& config,
                             const TensorMap& tensors) {
  std::filesystem::create_directories(dir);
  nlohmann::json header = nlohmann::json::object();
  std::string data;
  for (const auto& [name, t] : tensors) {
    std::string bytes = t.raw;
    if (bytes.empty()) {
      bytes.resize(t.values.size() * sizeof(float));
      std::memcpy(bytes.data(), t.values.data(), bytes.size());
    }
    header[name] = {
        {"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {data.size(), data.size() + bytes.size()}}};
    data += bytes;
  }
  std::string json = header.dump();
  while (json.size() % 8 != 0) json += ' ';
  write_file(dir / "model.safetensors", safetensors_image(json, data));
  write_file(dir / "config.json", config.dump(2));
}

}  // namespace paramdelta::testing
