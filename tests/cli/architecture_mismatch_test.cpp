// Models of different architectures can have tensors of the same names and
// shapes (a Llama and a Gemma of one size): a delta between them, or applied
// across them, is meaningless but succeeds silently by the weights alone. The
// architecture (config.json's model_type and architectures) must match: base
// and post in compute, the delta's base and the new base in apply, unless
// --allow-architecture-mismatch, which is said in a note and recorded.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli/cli_test_support.h"

namespace paramdelta {
namespace {

namespace fs = std::filesystem;
using namespace testing;

// llama_config's model with another architecture's names.
std::string config_as(const std::string& model_type, const std::string& architecture) {
  nlohmann::json config = nlohmann::json::parse(llama_config(2, 32, 64, false));
  config["model_type"] = model_type;
  config["architectures"] = {architecture};
  return config.dump(2);
}

nlohmann::json read_json(const fs::path& path) { return nlohmann::json::parse(read_file(path)); }

class ArchitectureMismatch : public ::testing::Test {
 protected:
  void SetUp() override {
    write_llama_pair(dir.path());
    write_model(dir / "gemma_post", llama_tensors(DType::kBF16, 2, 32, 64, 1, false, 0.003, 2),
                config_as("gemma", "GemmaForCausalLM"));
    write_model(dir / "gemma_base", llama_tensors(DType::kBF16, 2, 32, 64, 7),
                config_as("gemma", "GemmaForCausalLM"));
  }
  std::string p(const std::string& name) const { return (dir / name).string(); }
  ScratchDir dir;
};

TEST_F(ArchitectureMismatch, ComputeRefusesABaseAndPostOfDifferentArchitecturesNamingBoth) {
  const CommandResult r =
      run_cli({"compute", "--base", p("base"), "--post", p("gemma_post"), "-o", p("delta")});
  expect_one_line_error(r, "llama (LlamaForCausalLM)");
  EXPECT_NE(r.err.find("gemma (GemmaForCausalLM)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--allow-architecture-mismatch"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "delta"));
}

TEST_F(ArchitectureMismatch, ComputeRefusesAnotherArchitectureClassOfTheSameModelType) {
  write_model(dir / "classifier", llama_tensors(DType::kBF16, 2, 32, 64, 1, false, 0.003, 2),
              config_as("llama", "LlamaForSequenceClassification"));
  const CommandResult r =
      run_cli({"compute", "--base", p("base"), "--post", p("classifier"), "-o", p("delta")});
  expect_one_line_error(r, "LlamaForSequenceClassification");
  EXPECT_FALSE(fs::exists(dir / "delta"));
}

TEST_F(ArchitectureMismatch, ComputeWithTheFlagWritesTheDeltaWithANoteAndRecordsTheDecision) {
  const CommandResult r = run_cli({"compute", "--base", p("base"), "--post", p("gemma_post"), "-o",
                                   p("delta"), "--allow-architecture-mismatch"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("note: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("gemma (GemmaForCausalLM)"), std::string::npos) << r.err;
  const nlohmann::json manifest = read_json(dir / "delta" / "paramdelta.json");
  EXPECT_EQ(manifest["policies"]["architecture_mismatch"], "allowed") << manifest.dump(2);
  EXPECT_EQ(manifest["post"]["model_type"], "gemma");
}

TEST_F(ArchitectureMismatch, ComputeRecordsBothArchitecturesInTheManifest) {
  ASSERT_EQ(run_cli({"compute", "--base", p("base"), "--post", p("post"), "-o", p("delta"), "-q"}).exit_code,
            0);
  const nlohmann::json manifest = read_json(dir / "delta" / "paramdelta.json");
  EXPECT_EQ(manifest["base"]["model_type"], "llama");
  EXPECT_EQ(manifest["base"]["architectures"], nlohmann::json({"LlamaForCausalLM"}));
  EXPECT_EQ(manifest["post"]["model_type"], "llama");
  EXPECT_EQ(manifest["policies"]["architecture_mismatch"], "error");
}

TEST_F(ArchitectureMismatch, ApplyRefusesANewBaseOfAnotherArchitectureNamingBoth) {
  ASSERT_EQ(run_cli({"compute", "--base", p("base"), "--post", p("post"), "-o", p("delta"), "-q"}).exit_code,
            0);
  const CommandResult r =
      run_cli({"apply", "--base", p("gemma_base"), "--delta", p("delta"), "-o", p("out")});
  expect_one_line_error(r, "llama (LlamaForCausalLM)");
  EXPECT_NE(r.err.find("gemma (GemmaForCausalLM)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--allow-architecture-mismatch"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "out"));
}

TEST_F(ArchitectureMismatch, ApplyRefusesItWithASingleFileDelta) {
  ASSERT_EQ(run_cli({"compute", "--base", p("base"), "--post", p("post"), "-o", p("delta.safetensors"), "-q"})
                .exit_code,
            0);
  expect_one_line_error(
      run_cli({"apply", "--base", p("gemma_base"), "--delta", p("delta.safetensors"), "-o", p("out")}),
      "gemma (GemmaForCausalLM)");
  EXPECT_FALSE(fs::exists(dir / "out"));
}

TEST_F(ArchitectureMismatch, ApplyWithTheFlagWritesTheModelAndSaysSo) {
  ASSERT_EQ(run_cli({"compute", "--base", p("base"), "--post", p("post"), "-o", p("delta"), "-q"}).exit_code,
            0);
  const CommandResult r = run_cli({"apply", "--base", p("gemma_base"), "--delta", p("delta"), "-o", p("out"),
                                   "--allow-architecture-mismatch"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("note: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--allow-architecture-mismatch"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(dir / "out" / "model.safetensors"));
}

TEST_F(ArchitectureMismatch, ApplyFallsBackToThePostConfigOfADeltaThatRecordsNoArchitecture) {
  ASSERT_EQ(run_cli({"compute", "--base", p("base"), "--post", p("post"), "-o", p("delta"), "-q"}).exit_code,
            0);
  // As an older paramdelta wrote it: no architecture in the manifest.
  nlohmann::ordered_json manifest =
      nlohmann::ordered_json::parse(read_file(dir / "delta" / "paramdelta.json"));
  for (const char* side : {"base", "post"}) {
    manifest[side].erase("model_type");
    manifest[side].erase("architectures");
  }
  manifest["policies"].erase("architecture_mismatch");
  write_file(dir / "delta" / "paramdelta.json", manifest.dump(2));
  const CommandResult r =
      run_cli({"apply", "--base", p("gemma_base"), "--delta", p("delta"), "-o", p("out")});
  expect_one_line_error(r, "post_config.json");
  EXPECT_NE(r.err.find("gemma (GemmaForCausalLM)"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "out"));
}

TEST_F(ArchitectureMismatch, ApplyOfACombinedDeltaChecksTheBaseOfItsInputs) {
  ASSERT_EQ(run_cli({"compute", "--base", p("base"), "--post", p("post"), "-o", p("d1"), "-q"}).exit_code, 0);
  ASSERT_EQ(run_cli({"compute", "--base", p("base"), "--post", p("post"), "-o", p("d2"), "-q"}).exit_code, 0);
  ASSERT_EQ(run_cli({"combine", "--delta", p("d1"), "--delta", p("d2"), "-o", p("sum"), "-q"}).exit_code, 0);
  expect_one_line_error(run_cli({"apply", "--base", p("gemma_base"), "--delta", p("sum"), "-o", p("out")}),
                        "gemma (GemmaForCausalLM)");
}

}  // namespace
}  // namespace paramdelta
