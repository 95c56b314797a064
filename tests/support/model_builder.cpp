#include "support/model_builder.h"

#include <cmath>
#include <cstring>
#include <random>
#include <stdexcept>

#include "engine/convert.h"
#include "io/sharded_writer.h"
#include "paramdelta/checkpoint.h"
#include "support/test_support.h"

namespace paramdelta::testing {

std::vector<std::byte> encode_values(DType dtype, const std::vector<double>& values) {
  std::vector<std::byte> out(values.size() * dtype_size(dtype));
  engine::store_from_f64(values.data(), values.size(), dtype, out.data());
  return out;
}

std::vector<double> decode_values(DType dtype, const std::vector<std::byte>& bytes) {
  std::vector<double> out(bytes.size() / dtype_size(dtype));
  engine::load_as_f64(bytes.data(), dtype, out.size(), out.data());
  return out;
}

long double ulp_in(DType dtype, long double value) {
  const int digits = dtype == DType::kBF16 ? 8 : dtype == DType::kF16 ? 11 : 24;
  const int min_exponent = dtype == DType::kF16 ? -14 : -126;  // of the smallest normal
  int e = 0;
  std::frexp(static_cast<double>(value), &e);  // value = m·2^e, 0.5 <= |m| < 1
  if (value == 0 || e - 1 < min_exponent) e = min_exponent + 1;
  return std::ldexp(1.0L, e - digits);
}

ReadTensor read_tensor(const std::filesystem::path& path, const std::string& name,
                       const std::string& prefix) {
  auto ckpt = Checkpoint::open(path, prefix);
  const TensorRef* ref = ckpt.find(name);
  if (ref == nullptr) throw std::runtime_error("no tensor '" + name + "' in " + path.string());
  ReadTensor t;
  t.dtype = ref->info->dtype;
  t.shape = ref->info->shape;
  auto span = ckpt.data(*ref);
  t.raw.assign(span.begin(), span.end());
  t.values = decode_values(t.dtype, t.raw);
  return t;
}

void append_adversarial_pairs(DType dtype, std::vector<double>& base, std::vector<double>& post) {
  const double max = dtype == DType::kF16    ? 65504.0
                     : dtype == DType::kBF16 ? 3.3895313892515355e38
                                             : 3.4028234663852886e38;
  const double tiny = dtype == DType::kF16 ? 0x1p-24 : dtype == DType::kBF16 ? 0x1p-133 : 0x1p-149;
  const double gap = dtype == DType::kF16 ? 0x1p14 : 0x1p40;
  const std::vector<std::pair<double, double>> pairs = {
      {0.0, -0.0},      {-0.0, 0.0},    {-0.0, -0.0},      {tiny, -tiny},   {3 * tiny, 0.0},
      {0.0, 5 * tiny},  {1.0, 0x1p-20}, {0x1p-20, 1.0},    {-1.0, 0x1p-20}, {1.0, 1.0 + gap},
      {gap, 1.0 / gap}, {-gap, 3.0},    {max, -max},       {-max, max},     {max, max},
      {max, tiny},      {0.75, -0.75},  {-1.5e-3, 1.5e-3}, {1.0, 1.0},      {max / 2, max}};
  for (const auto& [b, p] : pairs) {
    base.push_back(b);
    post.push_back(p);
  }
}

void write_model(const std::filesystem::path& dir, const TensorMap& tensors, const std::string& config_json,
                 std::uint64_t max_shard_size) {
  std::filesystem::create_directories(dir);
  std::vector<TensorSpec> specs;
  std::vector<std::vector<std::byte>> data;
  for (const auto& [name, t] : tensors) {
    specs.push_back({name, t.dtype, t.shape});
    data.push_back(t.raw.empty() ? encode_values(t.dtype, t.values) : t.raw);
  }
  ShardedWriter writer(dir, "model", specs, max_shard_size ? max_shard_size : ~0ull,
                       Metadata{{"format", "pt"}});
  for (std::size_t i = 0; i < data.size(); ++i) writer.write_at(i, 0, data[i]);
  writer.finish();
  write_file(dir / "config.json", config_json);
}

TensorMap llama_tensors(DType dtype, int layers, int hidden, int vocab, std::uint64_t seed, bool tied,
                        double noise, std::uint64_t noise_seed) {
  TensorMap m;
  std::mt19937_64 rng(seed), noise_rng(noise_seed);
  std::normal_distribution<double> normal(0.0, 0.02), eps(0.0, 1.0);
  auto make = [&](const std::string& name, std::vector<std::uint64_t> shape, double center) {
    TestTensor t;
    t.dtype = dtype;
    t.shape = shape;
    std::uint64_t n = 1;
    for (auto d : shape) n *= d;
    t.values.resize(n);
    for (auto& v : t.values) {
      v = center + normal(rng);
      if (noise != 0.0) v += noise * eps(noise_rng);
    }
    m[name] = t;
  };
  const std::uint64_t h = static_cast<std::uint64_t>(hidden), v = static_cast<std::uint64_t>(vocab);
  make("model.embed_tokens.weight", {v, h}, 0.0);
  for (int l = 0; l < layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    for (const char* proj : {"q_proj", "k_proj", "v_proj", "o_proj"})
      make(p + "self_attn." + proj + ".weight", {h, h}, 0.0);
    make(p + "mlp.gate_proj.weight", {2 * h, h}, 0.0);
    make(p + "mlp.up_proj.weight", {2 * h, h}, 0.0);
    make(p + "mlp.down_proj.weight", {h, 2 * h}, 0.0);
    make(p + "input_layernorm.weight", {h}, 1.0);
    make(p + "post_attention_layernorm.weight", {h}, 1.0);
  }
  make("model.norm.weight", {h}, 1.0);
  if (!tied) make("lm_head.weight", {v, h}, 0.0);
  return m;
}

std::string llama_config(int layers, int hidden, int vocab, bool tied) {
  return "{\n  \"architectures\": [\"LlamaForCausalLM\"],\n  \"model_type\": \"llama\",\n  "
         "\"hidden_size\": " +
         std::to_string(hidden) + ",\n  \"intermediate_size\": " + std::to_string(2 * hidden) +
         ",\n  \"num_hidden_layers\": " + std::to_string(layers) +
         ",\n  \"num_attention_heads\": 2,\n  \"num_key_value_heads\": 2,\n  \"vocab_size\": " +
         std::to_string(vocab) + ",\n  \"tie_word_embeddings\": " + (tied ? "true" : "false") +
         ",\n  \"torch_dtype\": \"bfloat16\"\n}\n";
}

std::map<std::string, std::vector<std::byte>> read_all_bytes(const std::filesystem::path& path,
                                                             const std::string& prefix) {
  auto ckpt = Checkpoint::open(path, prefix);
  std::map<std::string, std::vector<std::byte>> out;
  for (const auto& ref : ckpt.tensors()) {
    auto span = ckpt.data(ref);
    out[ref.name()] = std::vector<std::byte>(span.begin(), span.end());
  }
  return out;
}

}  // namespace paramdelta::testing
