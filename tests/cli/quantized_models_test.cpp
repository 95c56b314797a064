// Quantized checkpoints (FP8 block-scaled weights with their '*_scale_inv'
// tensors, group-quantized weights with '.scales', a quantization_config in
// config.json) store codes whose meaning depends on companion scales: read as
// plain floats they give wrong weights without a word. Every command that
// reads weights refuses them with one line naming the method; inspect still
// describes them, and says they are quantized.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli/cli_test_support.h"

namespace paramdelta {
namespace {

namespace fs = std::filesystem;
using namespace testing;

constexpr const char* kFp8Config = R"({
  "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 32,
  "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "vocab_size": 64,
  "quantization_config": {"quant_method": "fp8", "activation_scheme": "dynamic", "weight_block_size": [128, 128]}
})";

// A DeepSeek-V3 style block-scaled FP8 weight in place of a model's own: E4M3
// codes of the same shape plus the inverse scale of each block. Without the
// scales the codes read as valid but wrong weights.
void make_fp8_weight(TensorMap& tensors, const std::string& name) {
  TestTensor& weight = tensors.at(name);
  std::uint64_t elements = 1;
  for (auto d : weight.shape) elements *= d;
  weight.dtype = DType::kF8E4M3;
  weight.values.clear();
  weight.raw.clear();
  for (std::uint64_t i = 0; i < elements; ++i) weight.raw.push_back(static_cast<std::byte>(0x30 + i % 16));
  tensors[name + "_scale_inv"] = TestTensor{DType::kF32, {1, 1}, {448.0}, {}};
}

class QuantizedModels : public ::testing::Test {
 protected:
  void SetUp() override {
    write_llama_pair(dir.path());
    TensorMap fp8 = llama_tensors(DType::kBF16, 2, 32, 64, 1);
    make_fp8_weight(fp8, "model.layers.0.mlp.down_proj.weight");
    write_model(dir / "fp8", fp8, kFp8Config);
    // The same tensors with no quantization_config: the companion tensors alone give it away.
    write_model(dir / "fp8_no_config", fp8, llama_config(2, 32, 64, false));
    TensorMap grouped = llama_tensors(DType::kBF16, 2, 32, 64, 1);
    grouped["model.layers.1.self_attn.q_proj.scales"] = TestTensor{DType::kBF16, {32, 1}, {}, {}};
    grouped["model.layers.1.self_attn.q_proj.scales"].values.assign(32, 0.5);
    write_model(dir / "grouped", grouped, llama_config(2, 32, 64, false));
  }
  std::string p(const std::string& name) const { return (dir / name).string(); }
  ScratchDir dir;
};

TEST_F(QuantizedModels, ComputeRefusesAQuantizedPostNamingTheMethod) {
  const CommandResult r = run_cli({"compute", "--base", p("base"), "--post", p("fp8"), "-o", p("delta")});
  expect_one_line_error(r, p("fp8") + "/config.json: field 'quantization_config'");
  EXPECT_NE(r.err.find("'fp8'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("quantized"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "delta"));
}

TEST_F(QuantizedModels, ComputeRefusesAQuantizedBase) {
  expect_one_line_error(run_cli({"compute", "--base", p("fp8"), "--post", p("post"), "-o", p("delta")}),
                        "'fp8'");
  EXPECT_FALSE(fs::exists(dir / "delta"));
}

TEST_F(QuantizedModels, ScaleInverseTensorsAloneAreRefusedNamingTheTensor) {
  const CommandResult r =
      run_cli({"compute", "--base", p("base"), "--post", p("fp8_no_config"), "-o", p("delta")});
  expect_one_line_error(r, "tensor 'model.layers.0.mlp.down_proj.weight_scale_inv'");
  EXPECT_NE(r.err.find("fp8"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "delta"));
}

TEST_F(QuantizedModels, GroupScalesAreRefusedNamingTheTensor) {
  const CommandResult r = run_cli({"compute", "--base", p("base"), "--post", p("grouped"), "-o", p("delta")});
  expect_one_line_error(r, "tensor 'model.layers.1.self_attn.q_proj.scales'");
  EXPECT_NE(r.err.find("quantized"), std::string::npos) << r.err;
}

TEST_F(QuantizedModels, ApplyRefusesAQuantizedNewBase) {
  ASSERT_EQ(run_cli({"compute", "--base", p("base"), "--post", p("post"), "-o", p("delta"), "-q"}).exit_code,
            0);
  expect_one_line_error(
      run_cli({"apply", "--base", p("fp8"), "--delta", p("delta"), "-o", p("out"), "--dtype", "bf16"}),
      "'fp8'");
  EXPECT_FALSE(fs::exists(dir / "out"));
}

TEST_F(QuantizedModels, ApplyAndCombineRefuseADeltaWhosePostWasQuantized) {
  // A delta written before this check existed: its post model's config says so.
  ASSERT_EQ(run_cli({"compute", "--base", p("base"), "--post", p("post"), "-o", p("delta"), "-q"}).exit_code,
            0);
  write_file(dir / "delta" / "post_config.json", kFp8Config);
  expect_one_line_error(run_cli({"apply", "--base", p("base"), "--delta", p("delta"), "-o", p("out")}),
                        p("delta") + "/post_config.json: field 'quantization_config'");
  EXPECT_FALSE(fs::exists(dir / "out"));
  ASSERT_EQ(run_cli({"compute", "--base", p("base"), "--post", p("post"), "-o", p("delta2"), "-q"}).exit_code,
            0);
  expect_one_line_error(run_cli({"combine", "--delta", p("delta2"), "--delta", p("delta"), "-o", p("sum")}),
                        p("delta") + "/post_config.json: field 'quantization_config'");
  EXPECT_FALSE(fs::exists(dir / "sum"));
}

TEST_F(QuantizedModels, VerifyRefusesAQuantizedExpectedModel) {
  ASSERT_EQ(run_cli({"compute", "--base", p("base"), "--post", p("post"), "-o", p("delta"), "-q"}).exit_code,
            0);
  expect_one_line_error(run_cli({"verify", "--base", p("base"), "--delta", p("delta"), "--expect", p("fp8")}),
                        "'fp8'");
}

TEST_F(QuantizedModels, AnalyzeRefusesAQuantizedNewBase) {
  ASSERT_EQ(run_cli({"compute", "--base", p("base"), "--post", p("post"), "-o", p("delta"), "-q"}).exit_code,
            0);
  expect_one_line_error(
      run_cli({"analyze", "--delta", p("delta"), "--base", p("base"), "--new-base", p("fp8_no_config")}),
      "_scale_inv");
}

TEST_F(QuantizedModels, LogitsRefusesAQuantizedModelNamingTheMethod) {
  expect_one_line_error(run_cli({"logits", "--model", p("fp8"), "--ids", "1,2"}),
                        p("fp8") + "/config.json: field 'quantization_config'");
}

TEST_F(QuantizedModels, InspectDescribesAQuantizedModelAndSaysSo) {
  const CommandResult r = run_cli({"inspect", p("fp8")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("model.layers.0.mlp.down_proj.weight_scale_inv"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("quantized: fp8"), std::string::npos) << r.out;
  const CommandResult j = run_cli({"inspect", p("fp8"), "--json"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  EXPECT_EQ(nlohmann::json::parse(j.out)["quantization"], "fp8") << j.out;
  const CommandResult plain = run_cli({"inspect", p("base"), "--json"});
  EXPECT_TRUE(nlohmann::json::parse(plain.out)["quantization"].is_null()) << plain.out;
}

}  // namespace
}  // namespace paramdelta
