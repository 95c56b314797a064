// Malformed config.json: read by apply (the output's config is the new base's,
// adjusted) and by the evaluation engine (logits/eval build the forward pass
// from it). Each case must be refused with one line naming the file and field.
#include <gtest/gtest.h>

#include <functional>

#include "hostile/hostile_support.h"

namespace paramdelta::testing {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

// A config the forward pass accepts (its weights are another matter).
json valid_llama_config() {
  return {{"architectures", {"LlamaForCausalLM"}},
          {"model_type", "llama"},
          {"vocab_size", 32},
          {"hidden_size", 8},
          {"intermediate_size", 16},
          {"num_hidden_layers", 2},
          {"num_attention_heads", 2},
          {"num_key_value_heads", 1},
          {"max_position_embeddings", 64},
          {"rms_norm_eps", 1e-5},
          {"rope_theta", 10000.0},
          {"hidden_act", "silu"},
          {"tie_word_embeddings", false}};
}

struct ConfigCase {
  std::string name;
  std::function<std::string()> text;
  std::vector<std::string> mentions;
};

std::string edited(const std::function<void(json&)>& change) {
  json c = valid_llama_config();
  change(c);
  return c.dump();
}

// Cases every reader of config.json must refuse: not JSON at all.
std::vector<ConfigCase> syntax_cases() {
  return {
      {"not_json", [] { return std::string("{\"vocab_size\": "); }, {"invalid JSON"}},
      {"empty", [] { return std::string(); }, {"invalid JSON"}},
      {"not_utf8", [] { return std::string("{\"model_type\": \"ll\xff\"}"); }, {"invalid JSON"}},
      {"array", [] { return std::string("[1]"); }, {"object"}},
      {"deeply_nested", [] { return "{\"x\": " + nested_arrays(100000) + "}"; }, {"nested deeper than"}},
      {"duplicate_key",
       [] { return std::string(R"({"vocab_size": 32, "vocab_size": 64})"); },
       {"duplicate JSON key 'vocab_size'"}},
  };
}

// Cases the forward pass must refuse: plausible JSON, impossible model.
std::vector<ConfigCase> model_cases() {
  auto cases = syntax_cases();
  std::vector<ConfigCase> more = {
      {"vocab_size_missing",
       [] { return edited([](json& c) { c.erase("vocab_size"); }); },
       {"field 'vocab_size'"}},
      {"vocab_size_negative",
       [] { return edited([](json& c) { c["vocab_size"] = -32; }); },
       {"field 'vocab_size'"}},
      {"vocab_size_string",
       [] { return edited([](json& c) { c["vocab_size"] = "32"; }); },
       {"field 'vocab_size'"}},
      {"vocab_size_fraction",
       [] { return edited([](json& c) { c["vocab_size"] = 32.5; }); },
       {"field 'vocab_size'"}},
      {"hidden_size_huge",
       [] { return edited([](json& c) { c["hidden_size"] = 1ull << 40; }); },
       {"field 'hidden_size'"}},
      {"hidden_size_above_2_64",
       [] { return edited([](json& c) { c["hidden_size"] = 1e30; }); },
       {"field 'hidden_size'"}},
      {"layers_huge",
       [] { return edited([](json& c) { c["num_hidden_layers"] = 1ull << 62; }); },
       {"field 'num_hidden_layers'"}},
      {"layers_zero",
       [] { return edited([](json& c) { c["num_hidden_layers"] = 0; }); },
       {"field 'num_hidden_layers'"}},
      {"heads_do_not_divide",
       [] { return edited([](json& c) { c["num_attention_heads"] = 3; }); },
       {"field 'num_attention_heads'"}},
      {"kv_heads_do_not_divide",
       [] {
         return edited([](json& c) {
           c["num_attention_heads"] = 4;
           c["num_key_value_heads"] = 3;
           c["hidden_size"] = 8;
         });
       },
       {"field 'num_key_value_heads'"}},
      {"kv_heads_above_heads",
       [] { return edited([](json& c) { c["num_key_value_heads"] = 4; }); },
       {"field 'num_key_value_heads'"}},
      {"odd_head_dim", [] { return edited([](json& c) { c["head_dim"] = 3; }); }, {"field 'head_dim'"}},
      {"rms_norm_eps_zero",
       [] { return edited([](json& c) { c["rms_norm_eps"] = 0; }); },
       {"field 'rms_norm_eps'"}},
      {"rope_theta_negative",
       [] { return edited([](json& c) { c["rope_theta"] = -1.0; }); },
       {"field 'rope_theta'"}},
      {"rope_scaling_unknown",
       [] { return edited([](json& c) {
              c["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
            }); },
       {"field 'rope_scaling.rope_type'", "yarn"}},
      {"rope_scaling_not_object",
       [] { return edited([](json& c) { c["rope_scaling"] = 4; }); },
       {"field 'rope_scaling'"}},
      {"llama3_scaling_incomplete",
       [] { return edited([](json& c) {
              c["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}};
            }); },
       {"field 'rope_scaling."}},
      {"activation_unknown",
       [] { return edited([](json& c) { c["hidden_act"] = "gelu"; }); },
       {"field 'hidden_act'", "gelu"}},
      {"architecture_unknown",
       [] { return edited([](json& c) { c["architectures"] = {"GPT2LMHeadModel"}; }); },
       {"field 'architectures'"}},
      {"architectures_not_list",
       [] { return edited([](json& c) { c["architectures"] = "LlamaForCausalLM"; }); },
       {"field 'architectures'"}},
      {"model_type_unknown",
       [] {
         return edited([](json& c) {
           c.erase("architectures");
           c["model_type"] = "gpt2";
         });
       },
       {"field 'model_type'", "gpt2"}},
      {"tie_embeddings_string",
       [] { return edited([](json& c) { c["tie_word_embeddings"] = "yes"; }); },
       {"field 'tie_word_embeddings'"}},
      {"eos_negative",
       [] { return edited([](json& c) { c["eos_token_id"] = -1; }); },
       {"field 'eos_token_id'"}},
      {"eos_huge",
       [] { return edited([](json& c) { c["eos_token_id"] = 1ull << 40; }); },
       {"field 'eos_token_id'"}},
      {"bos_list",
       [] { return edited([](json& c) {
              c["bos_token_id"] = {1, 2};
            }); },
       {"field 'bos_token_id'"}},
      {"max_positions_zero",
       [] { return edited([](json& c) { c["max_position_embeddings"] = 0; }); },
       {"field 'max_position_embeddings'"}},
      // transformers 5's form of the RoPE settings is read, and checked as strictly.
      {"rope_parameters_unknown_type",
       [] {
         return edited([](json& c) {
           c["rope_parameters"] = {{"rope_type", "yarn"}, {"rope_theta", 10000.0}, {"factor", 4.0}};
         });
       },
       {"field 'rope_parameters.rope_type'", "yarn"}},
      {"rope_parameters_not_object",
       [] { return edited([](json& c) { c["rope_parameters"] = "llama3"; }); },
       {"field 'rope_parameters'"}},
      {"rope_parameters_theta_negative",
       [] {
         return edited([](json& c) {
           c.erase("rope_theta");
           c["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", -1.0}};
         });
       },
       {"field 'rope_parameters.rope_theta'"}},
      {"rope_parameters_llama3_incomplete",
       [] {
         return edited([](json& c) {
           c["rope_parameters"] = {{"rope_type", "llama3"}, {"rope_theta", 10000.0}, {"factor", 8.0}};
         });
       },
       {"field 'rope_parameters."}},
      {"rope_parameters_disagree_with_rope_scaling",
       [] {
         return edited([](json& c) {
           c["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 2.0}};
           c["rope_parameters"] = {{"rope_type", "linear"}, {"factor", 4.0}, {"rope_theta", 10000.0}};
         });
       },
       {"field 'rope_parameters", "rope_scaling"}},
      {"rope_parameters_theta_disagrees_with_rope_theta",
       [] {
         return edited([](json& c) {
           c["rope_theta"] = 500000.0;
           c["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 10000.0}};
         });
       },
       {"field 'rope_parameters.rope_theta'", "rope_theta"}},
      {"rope_parameters_unknown_key",
       [] {
         return edited([](json& c) {
           c["rope_parameters"] = {
               {"rope_type", "linear"}, {"factor", 2.0}, {"rope_theta", 10000.0}, {"attention_factor", 0.5}};
         });
       },
       {"field 'rope_parameters.attention_factor'"}},
      {"rope_parameters_per_layer_type_without_layer_types",
       [] {
         return edited([](json& c) {
           c["rope_parameters"] = {{"full_attention", {{"rope_type", "default"}, {"rope_theta", 10000.0}}}};
         });
       },
       {"field 'rope_parameters"}},
      {"partial_rotary_factor",
       [] { return edited([](json& c) { c["partial_rotary_factor"] = 0.5; }); },
       {"field 'partial_rotary_factor'"}},
      {"partial_rotary_factor_in_rope_parameters",
       [] {
         return edited([](json& c) {
           c["rope_parameters"] = {
               {"rope_type", "default"}, {"rope_theta", 10000.0}, {"partial_rotary_factor", 0.25}};
         });
       },
       {"field 'rope_parameters.partial_rotary_factor'"}},
      // A field that changes the forward pass and is not understood is named,
      // never ignored: the numbers would differ from transformers'.
      {"unknown_field_logit_softcapping",
       [] { return edited([](json& c) { c["final_logit_softcapping"] = 30.0; }); },
       {"field 'final_logit_softcapping'", "not understood"}},
      {"unknown_field_qk_norm",
       [] { return edited([](json& c) { c["use_qk_norm"] = true; }); },
       {"field 'use_qk_norm'", "not understood"}},
      {"layer_types_sliding",
       [] { return edited([](json& c) {
              c["layer_types"] = {"full_attention", "sliding_attention"};
            }); },
       {"field 'layer_types'", "sliding_attention"}},
      {"layer_types_wrong_length",
       [] { return edited([](json& c) { c["layer_types"] = {"full_attention"}; }); },
       {"field 'layer_types'"}},
      {"mrope", [] { return edited([](json& c) { c["use_mrope"] = true; }); }, {"field 'use_mrope'"}},
  };
  cases.insert(cases.end(), more.begin(), more.end());
  return cases;
}

class MalformedModelConfig : public ::testing::TestWithParam<ConfigCase> {};

// logits loads a model for the forward pass: config.json is validated before any weight is read.
TEST_P(MalformedModelConfig, LogitsRefuses) {
  ScratchDir s;
  write_small_model(s / "model", 0);
  write_file(s / "model" / "config.json", GetParam().text());
  auto mentions = GetParam().mentions;
  mentions.push_back((s / "model" / "config.json").string() + ": ");
  expect_rejected(run_cli({"logits", "--model", (s / "model").string(), "--ids", "1,2"}), mentions);
}

INSTANTIATE_TEST_SUITE_P(Hostile, MalformedModelConfig, ::testing::ValuesIn(model_cases()),
                         [](const auto& info) { return info.param.name; });

TEST(MalformedModelConfigBaseline, ValidConfigPassesValidation) {
  // The same model directory with the valid config gets past config.json and
  // stops at the weights, which do not match it: each case above fails for its config.
  ScratchDir s;
  write_small_model(s / "model", 0);
  write_file(s / "model" / "config.json", valid_llama_config().dump());
  auto r = run_cli({"logits", "--model", (s / "model").string(), "--ids", "1,2"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.find("config.json:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("missing tensor"), std::string::npos) << r.err;
}

TEST(MalformedGenerationConfig, LogitsRefuses) {
  ScratchDir s;
  write_small_model(s / "model", 0);
  write_file(s / "model" / "config.json", valid_llama_config().dump());
  for (const std::string& text :
       {std::string("{\"eos_token_id\": "), std::string(R"({"eos_token_id": "</s>"})"),
        std::string(R"({"eos_token_id": [-3]})")}) {
    write_file(s / "model" / "generation_config.json", text);
    expect_rejected(run_cli({"logits", "--model", (s / "model").string(), "--ids", "1,2"}),
                    {(s / "model" / "generation_config.json").string() + ": "});
  }
}

class MalformedApplyConfig : public ::testing::TestWithParam<ConfigCase> {};

// apply writes the new base's config.json, adjusted: it must parse it strictly
// and, refusing it, leave no output behind (the weights were already written).
TEST_P(MalformedApplyConfig, ApplyRefusesAndLeavesNoOutput) {
  ScratchDir s;
  write_small_model(s / "base", 0);
  write_small_model(s / "post", 1);
  ASSERT_EQ(run_cli({"compute", "--base", (s / "base").string(), "--post", (s / "post").string(), "-o",
                     (s / "delta").string(), "--quiet"})
                .exit_code,
            0);
  write_file(s / "base" / "config.json", GetParam().text());
  auto mentions = GetParam().mentions;
  mentions.push_back((s / "base" / "config.json").string() + ": ");
  expect_rejected(run_cli({"apply", "--base", (s / "base").string(), "--delta", (s / "delta").string(), "-o",
                           (s / "out").string(), "--quiet"}),
                  mentions);
  expect_no_output(s / "out");
}

INSTANTIATE_TEST_SUITE_P(Hostile, MalformedApplyConfig, ::testing::ValuesIn(syntax_cases()),
                         [](const auto& info) { return info.param.name; });

TEST(MalformedApplyConfigSize, OversizedConfigIsRefusedUnread) {
  ScratchDir s;
  write_small_model(s / "base", 0);
  write_small_model(s / "post", 1);
  ASSERT_EQ(run_cli({"compute", "--base", (s / "base").string(), "--post", (s / "post").string(), "-o",
                     (s / "delta").string(), "--quiet"})
                .exit_code,
            0);
  fs::resize_file(s / "base" / "config.json", 300ull << 20);  // sparse: costs no disk
  expect_rejected(run_cli({"apply", "--base", (s / "base").string(), "--delta", (s / "delta").string(), "-o",
                           (s / "out").string(), "--quiet"}),
                  {(s / "base" / "config.json").string() + ": ", "more than"});
  expect_no_output(s / "out");
}

}  // namespace
}  // namespace paramdelta::testing
