// config.json parsing: defaults, derived sizes, RoPE scaling, and a clear
// error naming the field for everything the forward pass cannot honour.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "eval_test_models.h"
#include "paramdelta/error.h"
#include "paramdelta/model.h"

namespace paramdelta {
namespace {

using nlohmann::json;

ModelConfig parse(const json& config) { return parse_model_config(config.dump(), "config.json"); }

// The one-line error the CLI would print for this config.
std::string error_for(const json& config) {
  try {
    parse(config);
  } catch (const Error& e) {
    return format_error_line(e);
  }
  return "(no error)";
}

TEST(ModelConfig, ReadsALlamaConfigWithDefaults) {
  json c = testing::tiny_llama_config();
  c.erase("rope_theta");
  c.erase("rms_norm_eps");
  ModelConfig config = parse(c);
  EXPECT_EQ(config.architecture, "LlamaForCausalLM");
  EXPECT_EQ(config.model_type, "llama");
  EXPECT_EQ(config.head_dim, 4);  // hidden / heads
  EXPECT_EQ(config.kv_dim(), 8);
  EXPECT_EQ(config.rope_theta, 10000.0);
  EXPECT_EQ(config.rms_norm_eps, 1e-6);
  EXPECT_FALSE(config.qkv_bias);
  EXPECT_FALSE(config.sliding_window.has_value());
  EXPECT_EQ(config.eos_token_ids, std::vector<std::int32_t>{2});
}

TEST(ModelConfig, EarlyLlamaConversionsUseAnotherSpelling) {
  json c = testing::tiny_llama_config();
  c["architectures"] = {"LLaMAForCausalLM"};
  EXPECT_EQ(parse(c).model_type, "llama");
}

TEST(ModelConfig, MissingKeyValueHeadsMeansOnePerQueryHead) {
  json c = testing::tiny_llama_config();
  c.erase("num_key_value_heads");
  EXPECT_EQ(parse(c).num_key_value_heads, 4);
}

TEST(ModelConfig, ExplicitHeadDimWins) {
  json c = testing::tiny_llama_config();
  c["head_dim"] = 8;
  ModelConfig config = parse(c);
  EXPECT_EQ(config.head_dim, 8);
  EXPECT_EQ(config.q_dim(), 32);
}

TEST(ModelConfig, Qwen2HasQkvBiasesAndMistralASlidingWindow) {
  json q = testing::tiny_llama_config();
  q["architectures"] = {"Qwen2ForCausalLM"};
  q["model_type"] = "qwen2";
  EXPECT_TRUE(parse(q).qkv_bias);
  EXPECT_FALSE(parse(q).output_bias);
  json m = testing::tiny_llama_config();
  m["architectures"] = {"MistralForCausalLM"};
  m["model_type"] = "mistral";
  m["sliding_window"] = 4096;
  EXPECT_EQ(parse(m).sliding_window, 4096);
  m["sliding_window"] = nullptr;
  EXPECT_FALSE(parse(m).sliding_window.has_value());
}

TEST(ModelConfig, EosTokenIdMayBeAList) {
  json c = testing::tiny_llama_config();
  c["eos_token_id"] = {128001, 128009};
  EXPECT_EQ(parse(c).eos_token_ids, (std::vector<std::int32_t>{128001, 128009}));
}

TEST(ModelConfig, Llama3RopeScalingKeepsSlowsAndBlendsFrequencyBands) {
  json c = testing::tiny_llama_config();
  c["head_dim"] = 16;
  c["rope_theta"] = 500000.0;
  c["rope_scaling"] = {{"rope_type", "llama3"},
                       {"factor", 8.0},
                       {"low_freq_factor", 1.0},
                       {"high_freq_factor", 4.0},
                       {"original_max_position_embeddings", 64}};
  ModelConfig config = parse(c);
  EXPECT_EQ(config.rope_scaling.type, RopeScalingType::kLlama3);
  std::vector<double> f = rope_inverse_frequencies(config);
  ASSERT_EQ(f.size(), 8u);
  auto base = [](int i) { return 1.0 / std::pow(500000.0, 2.0 * i / 16); };
  // Wavelength 2π (< 64/4): unchanged.
  EXPECT_DOUBLE_EQ(f[0], base(0));
  // Wavelength 2π·500000^(1/8) ≈ 32.6, between 16 and 64: blended.
  const double wavelen = 2 * std::numbers::pi / base(1);
  const double smooth = (64 / wavelen - 1.0) / (4.0 - 1.0);
  EXPECT_NEAR(f[1], (1 - smooth) * base(1) / 8 + smooth * base(1), 1e-15);
  EXPECT_GT(f[1], base(1) / 8);
  EXPECT_LT(f[1], base(1));
  // Longer than 64: slowed by the factor.
  for (int i = 2; i < 8; ++i) EXPECT_DOUBLE_EQ(f[i], base(i) / 8);
}

TEST(ModelConfig, LinearRopeScalingDividesEveryFrequency) {
  json c = testing::tiny_llama_config();
  c["rope_scaling"] = {{"type", "linear"}, {"factor", 4.0}};
  std::vector<double> f = rope_inverse_frequencies(parse(c));
  EXPECT_DOUBLE_EQ(f[0], 0.25);
  EXPECT_DOUBLE_EQ(f[1], 0.25 / 100.0);  // theta^(-2/4) = 1/100
}

TEST(ModelConfig, RopeParametersOfTransformers5AreReadWithTheirTheta) {
  json c = testing::tiny_llama_config();
  c.erase("rope_theta");
  c["rope_parameters"] = {{"rope_type", "linear"}, {"factor", 4.0}, {"rope_theta", 1e6}};
  const ModelConfig config = parse(c);
  EXPECT_EQ(config.rope_scaling.type, RopeScalingType::kLinear);
  EXPECT_EQ(config.rope_scaling.factor, 4.0);
  EXPECT_EQ(config.rope_theta, 1e6);
}

TEST(ModelConfig, RopeParametersPerLayerTypeUseTheFullAttentionOnes) {
  json c = testing::tiny_llama_config();
  c.erase("rope_theta");
  c["layer_types"] = json::array();
  for (int i = 0; i < c["num_hidden_layers"].get<int>(); ++i) c["layer_types"].push_back("full_attention");
  c["rope_parameters"] = {{"full_attention", {{"rope_type", "linear"}, {"factor", 2.0}, {"rope_theta", 5e5}}},
                          {"sliding_attention", {{"rope_type", "default"}, {"rope_theta", 1e4}}}};
  const ModelConfig config = parse(c);
  EXPECT_EQ(config.rope_scaling.type, RopeScalingType::kLinear);
  EXPECT_EQ(config.rope_theta, 5e5);
}

TEST(ModelConfig, BothRopeFormsAreAcceptedWhenTheyAgree) {
  json c = testing::tiny_llama_config();
  c["rope_theta"] = 500000.0;
  c["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  c["rope_parameters"] = {{"rope_type", "linear"}, {"factor", 2.0}, {"rope_theta", 500000.0}};
  EXPECT_EQ(parse(c).rope_scaling.factor, 2.0);
}

TEST(ModelConfig, FieldsWithoutEffectOnTheLogitsAreAccepted) {
  json c = testing::tiny_llama_config();
  c.update({{"pad_token_id", 0},
            {"initializer_range", 0.02},
            {"attention_dropout", 0.0},
            {"pretraining_tp", 1},
            {"use_cache", true},
            {"transformers_version", "5.25.0"},
            {"dtype", "bfloat16"},
            {"unknown_but_null", nullptr},
            {"is_llama_config", true},
            {"rope_interleaved", false}});
  EXPECT_EQ(error_for(c), "(no error)");
}

TEST(ModelConfig, UnsupportedArchitecturesAreNamed) {
  json c = testing::tiny_llama_config();
  c["architectures"] = {"GPT2LMHeadModel"};
  std::string e = error_for(c);
  EXPECT_NE(e.find("architectures"), std::string::npos) << e;
  EXPECT_NE(e.find("GPT2LMHeadModel"), std::string::npos) << e;
  EXPECT_NE(e.find("LlamaForCausalLM"), std::string::npos) << e;  // the hint lists what works

  c = testing::tiny_llama_config();
  c.erase("architectures");
  c["model_type"] = "gemma";
  e = error_for(c);
  EXPECT_NE(e.find("model_type"), std::string::npos) << e;
  EXPECT_NE(e.find("gemma"), std::string::npos) << e;

  c = testing::tiny_llama_config();
  c["model_type"] = "qwen2";  // contradicts LlamaForCausalLM
  EXPECT_NE(error_for(c).find("contradicts"), std::string::npos);

  c = testing::tiny_llama_config();
  c.erase("architectures");
  c.erase("model_type");
  EXPECT_NE(error_for(c).find("neither"), std::string::npos);
}

TEST(ModelConfig, RefusesWhatItCannotComputeExactly) {
  struct Case {
    const char* field;
    json value;
    const char* expected;
  };
  const Case cases[] = {
      {"hidden_act", "gelu", "unsupported activation 'gelu'"},
      {"rope_scaling", json{{"rope_type", "yarn"}, {"factor", 4.0}}, "unsupported RoPE scaling type 'yarn'"},
      {"rope_scaling", json{{"rope_type", "dynamic"}, {"factor", 2.0}}, "'dynamic'"},
      {"rope_scaling", json{{"rope_type", "llama3"}, {"factor", 8.0}}, "low_freq_factor"},
      {"rope_scaling", json{{"rope_type", "linear"}}, "factor"},
      {"rope_scaling", "linear", "expected an object"},
      {"num_key_value_heads", 3, "not a multiple"},
      {"num_key_value_heads", 8, "out of range"},
      {"hidden_size", 18, "not a multiple of num_attention_heads"},
      {"head_dim", 5, "odd"},
      {"hidden_size", -16, "out of range"},
      {"hidden_size", 16.5, "expected an integer"},
      {"hidden_size", "16", "expected an integer"},
      {"vocab_size", 1e30, "expected an integer"},
      {"num_hidden_layers", 0, "out of range"},
      {"num_hidden_layers", 18446744073709551615ull, "out of range"},
      {"rms_norm_eps", -1, "finite number > 0"},
      {"rope_theta", 0, "finite number > 0"},
      {"tie_word_embeddings", "yes", "true or false"},
      {"eos_token_id", -1, "out of range"},
      {"architectures", "LlamaForCausalLM", "list"},
  };
  for (const Case& c : cases) {
    json config = testing::tiny_llama_config();
    config[c.field] = c.value;
    std::string e = error_for(config);
    EXPECT_NE(e.find(c.field), std::string::npos) << c.field << ": " << e;
    EXPECT_NE(e.find(c.expected), std::string::npos) << c.field << ": " << e;
  }
  json q = testing::tiny_llama_config();
  q["architectures"] = {"Qwen2ForCausalLM"};
  q["model_type"] = "qwen2";
  q["use_sliding_window"] = true;
  EXPECT_NE(error_for(q).find("use_sliding_window"), std::string::npos);
}

TEST(ModelConfig, RequiredFieldsAndMalformedJson) {
  json c = testing::tiny_llama_config();
  c.erase("intermediate_size");
  std::string e = error_for(c);
  EXPECT_NE(e.find("intermediate_size"), std::string::npos) << e;
  EXPECT_NE(e.find("missing"), std::string::npos) << e;
  EXPECT_THROW(parse_model_config("{\"vocab_size\": ", "config.json"), Error);
  EXPECT_THROW(parse_model_config("[1, 2]", "config.json"), Error);
  EXPECT_THROW(parse_model_config(R"({"vocab_size": 1, "vocab_size": 2})", "config.json"), Error);
}

TEST(ModelConfig, IntegralFloatsAreAcceptedAsIntegers) {
  json c = testing::tiny_llama_config();
  c["hidden_size"] = 16.0;
  EXPECT_EQ(parse(c).hidden_size, 16);
}

}  // namespace
}  // namespace paramdelta
