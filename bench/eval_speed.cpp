// Evaluation speed on a 1.1B-parameter Llama-shaped model (TinyLlama's
// shapes: hidden 2048, 22 layers, 32 heads, 4 key/value heads, intermediate
// 5632, vocabulary 32000) with random BF16 weights that this program writes
// once into the model directory.
//
// Reports prompt-processing and generation tokens/s next to what the BLAS
// itself reaches on this machine:
//  - sgemm GFLOP/s on the MLP's shape at the prompt's length: the ceiling
//    for prompt processing, which is matrix-matrix products;
//  - sgemv GB/s over a matrix far larger than the caches: the ceiling for
//    generation of one sequence, which streams every fp32 weight once per token.
// Generation is measured alone (one sequence) and batched: --batch sequences
// continuing the same prompt, one token each per step (Model::decode), which
// is how `paramdelta eval` decodes its generation tasks.
//
//   eval_speed [--model-dir DIR] [--prompt-tokens N] [--gen-tokens N] [--batch N] [--threads N]
//   [--layers N] [--json FILE]
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "core/float_bits.h"
#include "paramdelta/error.h"
#include "paramdelta/model.h"
#include "paramdelta/safetensors.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

struct Shape {
  std::uint64_t hidden = 2048, inter = 5632, layers = 22, heads = 32, kv_heads = 4, vocab = 32000;
  std::uint64_t head_dim() const { return hidden / heads; }
};

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Deterministic, fast pseudo-random numbers (splitmix64).
struct Random {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  float uniform() { return static_cast<float>(next() >> 40) / static_cast<float>(1ull << 24) * 2.0f - 1.0f; }
};

std::vector<std::pair<paramdelta::TensorSpec, float>> tensor_plan(const Shape& s) {
  std::vector<std::pair<paramdelta::TensorSpec, float>> plan;
  auto add = [&](const std::string& name, std::vector<std::uint64_t> shape, float scale) {
    plan.push_back({paramdelta::TensorSpec{name, paramdelta::DType::kBF16, shape}, scale});
  };
  // Uniform values with the variance of N(0, 1/fan_in), norms around 1: activations stay finite.
  auto scale = [](std::uint64_t fan_in) { return std::sqrt(3.0f / static_cast<float>(fan_in)); };
  const std::uint64_t q = s.heads * s.head_dim(), kv = s.kv_heads * s.head_dim();
  add("model.embed_tokens.weight", {s.vocab, s.hidden}, 1.0f);
  for (std::uint64_t l = 0; l < s.layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    add(p + "input_layernorm.weight", {s.hidden}, 0.0f);
    add(p + "post_attention_layernorm.weight", {s.hidden}, 0.0f);
    add(p + "self_attn.q_proj.weight", {q, s.hidden}, scale(s.hidden));
    add(p + "self_attn.k_proj.weight", {kv, s.hidden}, scale(s.hidden));
    add(p + "self_attn.v_proj.weight", {kv, s.hidden}, scale(s.hidden));
    add(p + "self_attn.o_proj.weight", {s.hidden, q}, scale(q));
    add(p + "mlp.gate_proj.weight", {s.inter, s.hidden}, scale(s.hidden));
    add(p + "mlp.up_proj.weight", {s.inter, s.hidden}, scale(s.hidden));
    add(p + "mlp.down_proj.weight", {s.hidden, s.inter}, scale(s.inter));
  }
  add("model.norm.weight", {s.hidden}, 0.0f);
  add("lm_head.weight", {s.vocab, s.hidden}, scale(s.hidden));
  return plan;
}

void generate_model(const fs::path& dir, const Shape& s) {
  std::printf("writing a random BF16 model with TinyLlama's shapes (%llu layers) to %s ...\n",
              static_cast<unsigned long long>(s.layers), dir.c_str());
  fs::create_directories(dir);
  auto plan = tensor_plan(s);
  std::vector<paramdelta::TensorSpec> specs;
  for (auto& [spec, scale] : plan) specs.push_back(spec);
  paramdelta::SafetensorsWriter writer(dir / "model.safetensors", specs, {{"format", "pt"}});
  Random random{42};
  std::vector<std::uint16_t> buffer;
  for (std::size_t i = 0; i < plan.size(); ++i) {
    const auto& [spec, scale] = plan[i];
    const std::uint64_t count = spec.nbytes() / 2;
    constexpr std::uint64_t kChunk = 1 << 22;
    for (std::uint64_t begin = 0; begin < count; begin += kChunk) {
      const std::uint64_t n = std::min(kChunk, count - begin);
      buffer.resize(n);
      for (auto& v : buffer) {
        const float value = scale == 0.0f ? 1.0f + 0.1f * random.uniform() : scale * random.uniform();
        v = paramdelta::fp::f32_to_bf16(value);
      }
      writer.write_at(i, begin * 2, std::as_bytes(std::span(buffer)));
    }
  }
  writer.finish();
  nlohmann::json config{
      {"architectures", {"LlamaForCausalLM"}},
      {"model_type", "llama"},
      {"hidden_size", s.hidden},
      {"intermediate_size", s.inter},
      {"num_hidden_layers", s.layers},
      {"num_attention_heads", s.heads},
      {"num_key_value_heads", s.kv_heads},
      {"vocab_size", s.vocab},
      {"max_position_embeddings", 2048},
      {"rms_norm_eps", 1e-5},
      {"rope_theta", 10000.0},
      {"hidden_act", "silu"},
      {"tie_word_embeddings", false},
      {"torch_dtype", "bfloat16"},
  };
  std::ofstream(dir / "config.json") << config.dump(2) << "\n";
}

// Best time of `work` over at least `reps` runs and one second, in seconds:
// on a shared machine the best run is the one least disturbed by others.
template <typename Work>
double best_time(int reps, Work work) {
  double best = 1e300;
  auto begin = Clock::now();
  for (int i = 0; i < reps || seconds_since(begin) < 1.0; ++i) {
    auto start = Clock::now();
    work();
    best = std::min(best, seconds_since(start));
  }
  return best;
}

double sgemm_gflops(std::size_t m, std::size_t n, std::size_t k) {
  std::vector<float> a(m * k, 0.5f), b(n * k, 0.25f), c(m * n);
  auto run = [&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(m), static_cast<int>(n),
                static_cast<int>(k), 1.0f, a.data(), static_cast<int>(k), b.data(), static_cast<int>(k), 0.0f,
                c.data(), static_cast<int>(n));
  };
  run();  // warm-up: thread start, page faults
  return 2.0 * m * n * k / best_time(5, run) / 1e9;
}

double sgemv_gbytes(std::size_t rows, std::size_t cols) {
  std::vector<float> a(rows * cols, 0.5f), x(cols, 1.0f), y(rows);
  auto run = [&] {
    cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<int>(rows), static_cast<int>(cols), 1.0f, a.data(),
                static_cast<int>(cols), x.data(), 1, 0.0f, y.data(), 1);
  };
  run();
  return rows * cols * sizeof(float) / best_time(5, run) / 1e9;
}

int main_with_errors(int argc, char** argv) {
  fs::path dir = fs::path(PARAMDELTA_BENCH_DIR) / "data" / "eval-1.1b";
  std::size_t prompt_tokens = 512, gen_tokens = 32, batch = 16;
  int threads = 0;
  std::string json_path;
  Shape shape;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--model-dir")
      dir = value();
    else if (arg == "--prompt-tokens")
      prompt_tokens = std::stoul(value());
    else if (arg == "--gen-tokens")
      gen_tokens = std::stoul(value());
    else if (arg == "--batch")
      batch = std::stoul(value());
    else if (arg == "--threads")
      threads = std::stoi(value());
    else if (arg == "--layers")
      shape.layers = std::stoul(value());
    else if (arg == "--json")
      json_path = value();
    else
      throw std::runtime_error("unknown argument " + arg + " (see the comment at the top of eval_speed.cpp)");
  }
  if (prompt_tokens < 1 || prompt_tokens + gen_tokens > 2048)
    throw std::runtime_error("need 1 <= prompt + gen <= 2048");
  if (batch < 1) throw std::runtime_error("need --batch >= 1");
  if (shape.layers != 22) dir += "-" + std::to_string(shape.layers) + "layers";
  paramdelta::set_compute_threads(threads);
  const int used_threads = paramdelta::compute_threads();

  if (!fs::exists(dir / "config.json")) generate_model(dir, shape);

  std::printf("measuring the BLAS (%d threads) ...\n", used_threads);
  double gemm = sgemm_gflops(prompt_tokens, shape.inter, shape.hidden);
  double gemv = sgemv_gbytes(shape.vocab, shape.hidden);

  auto load_start = Clock::now();
  paramdelta::Model model = paramdelta::Model::load(dir);
  const double load_seconds = seconds_since(load_start);
  const auto& c = model.config();
  const double matmul_params = static_cast<double>(c.parameter_count()) -
                               static_cast<double>(c.vocab_size * c.hidden_size) -
                               static_cast<double>(c.num_hidden_layers * 2 * c.hidden_size + c.hidden_size);

  Random random{7};
  std::vector<std::int32_t> prompt(prompt_tokens);
  for (auto& id : prompt)
    id = static_cast<std::int32_t>(random.next() % static_cast<std::uint64_t>(c.vocab_size));
  paramdelta::KvCache cache = model.new_cache(prompt_tokens + gen_tokens);
  {
    std::vector<std::int32_t> warm(prompt.begin(), prompt.begin() + std::min<std::size_t>(8, prompt.size()));
    model.forward(cache, warm, 1);  // thread pools and first-touch page faults, outside the timing
  }

  cache.clear();
  auto pp_start = Clock::now();
  std::vector<float> logits = model.forward(cache, prompt, 1);
  const double pp_seconds = seconds_since(pp_start);
  // Weight products plus attention (q·k and p·v over the causal half).
  const double pp_flops = 2.0 * matmul_params * static_cast<double>(prompt_tokens) +
                          2.0 * 2.0 * static_cast<double>(prompt_tokens) *
                              static_cast<double>(prompt_tokens) / 2.0 *
                              static_cast<double>(c.q_dim() * c.num_hidden_layers);

  // Greedy decoding of `count` sequences that all start from the prompt's
  // cache, the first continuing with the prompt's prediction and the others
  // with random tokens; returns the seconds for gen_tokens steps.
  const std::size_t vocab = static_cast<std::size_t>(c.vocab_size);
  auto decode_steps = [&](std::size_t count) {
    std::vector<paramdelta::KvCache> caches(count, cache);
    std::vector<paramdelta::KvCache*> pointers;
    for (auto& each : caches) pointers.push_back(&each);
    std::vector<std::int32_t> next(count);
    next[0] = static_cast<std::int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    for (std::size_t i = 1; i < count; ++i) next[i] = static_cast<std::int32_t>(random.next() % vocab);
    auto start = Clock::now();
    for (std::size_t step = 0; step < gen_tokens; ++step) {
      const std::vector<float> out = model.decode(pointers, next);
      for (std::size_t i = 0; i < count; ++i) {
        const float* row = out.data() + i * vocab;
        next[i] = static_cast<std::int32_t>(std::max_element(row, row + vocab) - row);
      }
    }
    return seconds_since(start);
  };
  const double gen_seconds = decode_steps(1);
  const double batch_seconds = batch > 1 ? decode_steps(batch) : gen_seconds;
  const double weight_bytes =
      4.0 * matmul_params;  // every fp32 weight but the embedding table, once per token

  // The ceilings again, after the model's runs; the better of the two measurements counts.
  gemm = std::max(gemm, sgemm_gflops(prompt_tokens, shape.inter, shape.hidden));
  gemv = std::max(gemv, sgemv_gbytes(shape.vocab, shape.hidden));

  const double pp_rate = static_cast<double>(prompt_tokens) / pp_seconds;
  const double pp_gflops = pp_flops / pp_seconds / 1e9;
  const double gen_rate = gen_tokens ? static_cast<double>(gen_tokens) / gen_seconds : 0.0;
  const double gen_gbytes = gen_rate * weight_bytes / 1e9;
  const double gen_ceiling = gemv * 1e9 / weight_bytes;
  const double batch_rate = gen_tokens ? static_cast<double>(gen_tokens * batch) / batch_seconds : 0.0;

  std::printf("\nmodel: %s, %.2fB parameters, %lld layers, fp32 compute; %d BLAS threads\n", dir.c_str(),
              static_cast<double>(c.parameter_count()) / 1e9, static_cast<long long>(c.num_hidden_layers),
              used_threads);
  std::printf("%-44s %10.1f GFLOP/s\n",
              ("BLAS sgemm [" + std::to_string(prompt_tokens) + "x5632x2048]").c_str(), gemm);
  std::printf("%-44s %10.2f GB/s  -> at most %.2f generated tokens/s\n",
              "BLAS sgemv [32000x2048] (weights streamed)", gemv, gen_ceiling);
  std::printf("%-44s %10.2f s\n", "model load (BF16 -> fp32)", load_seconds);
  std::printf("%-44s %10.1f tokens/s  = %.1f GFLOP/s = %.0f%% of sgemm\n",
              ("prompt processing (" + std::to_string(prompt_tokens) + " tokens)").c_str(), pp_rate,
              pp_gflops, 100.0 * pp_gflops / gemm);
  std::printf("%-44s %10.2f tokens/s  = %.2f GB/s of weights = %.0f%% of sgemv\n",
              ("generation (" + std::to_string(gen_tokens) + " tokens, KV cache)").c_str(), gen_rate,
              gen_gbytes, 100.0 * gen_gbytes / gemv);
  std::printf("%-44s %10.2f tokens/s  = %.1fx one sequence; %.1f GFLOP/s = %.0f%% of sgemm\n",
              ("generation, " + std::to_string(batch) + " sequences together").c_str(), batch_rate,
              batch_rate / gen_rate, batch_rate * 2.0 * matmul_params / 1e9,
              100.0 * batch_rate * 2.0 * matmul_params / 1e9 / gemm);

  if (!json_path.empty()) {
    nlohmann::json out{{"model_dir", dir.string()},
                       {"parameters", c.parameter_count()},
                       {"layers", c.num_hidden_layers},
                       {"threads", used_threads},
                       {"sgemm_gflops", gemm},
                       {"sgemv_gbytes_per_s", gemv},
                       {"load_seconds", load_seconds},
                       {"prompt_tokens", prompt_tokens},
                       {"prompt_tokens_per_s", pp_rate},
                       {"prompt_gflops", pp_gflops},
                       {"generated_tokens", gen_tokens},
                       {"generation_tokens_per_s", gen_rate},
                       {"generation_ceiling_tokens_per_s", gen_ceiling},
                       {"batch", batch},
                       {"batched_generation_tokens_per_s", batch_rate}};
    std::ofstream(json_path) << out.dump(2) << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return main_with_errors(argc, argv);
  } catch (const paramdelta::Error& e) {
    std::fprintf(stderr, "eval_speed: %s\n", paramdelta::format_error_line(e).c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "eval_speed: %s\n", e.what());
  }
  return 1;
}
