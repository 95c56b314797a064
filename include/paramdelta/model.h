// The forward pass of Llama-family decoder-only language models, as Hugging
// Face checkpoints describe them: Llama 1/2/3 (including Llama-3 and linear
// RoPE scaling), Mistral (sliding-window attention) and Qwen2 (q/k/v biases).
//
// Weights (BF16, F16 or F32) are widened to float32 when the model is loaded,
// so a model needs about 4 bytes per parameter of memory; all arithmetic is
// float32, matrix products through the system BLAS (OpenBLAS). A prompt's
// tokens go through each weight matrix as one matrix product; generation then
// feeds one token per sequence at a time against key/value caches (decode),
// several sequences per step, with batch-invariant products.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace paramdelta {

enum class RopeScalingType {
  kNone,    // plain RoPE with rope_theta
  kLinear,  // positions divided by `factor` ("linear")
  kLlama3,  // Llama 3.1's frequency-dependent scaling ("llama3")
};

struct RopeScaling {
  RopeScalingType type = RopeScalingType::kNone;
  double factor = 1.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  std::int64_t original_max_position_embeddings = 8192;
};

// What config.json says, validated. Parsing rejects anything the forward pass
// would compute wrongly rather than guess (unknown architectures, activations,
// RoPE scaling types, inconsistent sizes).
struct ModelConfig {
  std::string architecture;  // first entry of "architectures", e.g. "LlamaForCausalLM" (may be empty)
  std::string model_type;    // "llama", "mistral" or "qwen2"
  std::int64_t vocab_size = 0;
  std::int64_t hidden_size = 0;
  std::int64_t intermediate_size = 0;
  std::int64_t num_hidden_layers = 0;
  std::int64_t num_attention_heads = 0;
  std::int64_t num_key_value_heads = 0;  // defaults to num_attention_heads
  std::int64_t head_dim = 0;             // defaults to hidden_size / num_attention_heads
  std::int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool tie_word_embeddings = false;            // also true at load time when lm_head.weight is absent
  bool qkv_bias = false;                       // Qwen2 always; Llama with attention_bias
  bool output_bias = false;                    // Llama with attention_bias
  bool mlp_bias = false;                       // Llama with mlp_bias
  std::optional<std::int64_t> sliding_window;  // Mistral: a query sees at most this many keys
  std::optional<std::int32_t> bos_token_id;
  std::vector<std::int32_t> eos_token_ids;  // config.json's eos_token_id (an integer or a list)

  std::int64_t q_dim() const { return num_attention_heads * head_dim; }
  std::int64_t kv_dim() const { return num_key_value_heads * head_dim; }
  std::uint64_t parameter_count() const;
};

// Parses config.json text; `label` names the file in errors (paramdelta::Error).
ModelConfig parse_model_config(std::string_view json_text, const std::string& label);

// RoPE's per-pair rotation frequencies (head_dim / 2 values) after scaling.
std::vector<double> rope_inverse_frequencies(const ModelConfig& config);

// Threads used by the BLAS and by our own loops; 0 leaves the BLAS default.
// Process-wide (OpenBLAS has one thread pool).
void set_compute_threads(int threads);
int compute_threads();

class Model;
namespace eval {
struct KvCacheStorage;  // defined with the forward pass
}

// Keys and values of every layer for the tokens seen so far, for up to
// `capacity` positions (memory is taken as positions are filled). Positions
// are implicit: token i of the cache is at position i. Made by
// Model::new_cache; a default-constructed (or moved-from) cache is empty and
// has no room.
class KvCache {
 public:
  KvCache();
  KvCache(const KvCache& other);
  KvCache(KvCache&&) noexcept;
  KvCache& operator=(const KvCache& other);
  KvCache& operator=(KvCache&&) noexcept;
  ~KvCache();

  std::size_t size() const;
  std::size_t capacity() const;
  // Forgets every position from `new_size` on (to re-use a shared prompt prefix).
  void truncate(std::size_t new_size);
  void clear() { truncate(0); }

 private:
  friend class Model;
  std::unique_ptr<eval::KvCacheStorage> storage_;
};

class Model {
 public:
  // Loads config.json and the weights of a model directory (or the config.json
  // beside a single .safetensors file). Every tensor's shape is checked against
  // the config before any weight is read.
  static Model load(const std::filesystem::path& path);

  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;
  ~Model();

  const ModelConfig& config() const;
  const std::filesystem::path& path() const;
  // Notes gathered while loading (e.g. "lm_head.weight absent: using tied embeddings").
  const std::vector<std::string>& notes() const;

  KvCache new_cache(std::size_t capacity) const;

  // Runs `ids` at the positions following those already in `cache`, appends
  // their keys and values to it, and returns the final-normalised hidden states
  // of the last `keep_rows` tokens ([keep_rows][hidden_size]).
  std::vector<float> forward_hidden(KvCache& cache, std::span<const std::int32_t> ids,
                                    std::size_t keep_rows) const;
  // Vocabulary logits for hidden-state rows ([rows][hidden_size] -> [rows][vocab_size]).
  void logits(std::span<const float> hidden, std::size_t rows, std::span<float> out) const;
  // forward_hidden followed by logits: [keep_rows][vocab_size].
  std::vector<float> forward(KvCache& cache, std::span<const std::int32_t> ids,
                             std::size_t keep_rows = 1) const;

  // One decoding step for several sequences at once: ids[i] is appended to
  // *caches[i] (distinct caches). Returns the logits [ids.size()][vocab_size].
  // Every row comes out bit for bit as it would alone, whatever the other rows
  // (the weight products sum in a fixed order; see eval/invariant_matmul.h), so
  // batching sequences never changes what a greedy decoder picks. It may
  // differ in the last bits from forward() on the same token, which uses the BLAS.
  std::vector<float> decode(std::span<KvCache* const> caches, std::span<const std::int32_t> ids) const;

 private:
  struct Impl;
  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace paramdelta
