// JSON files that compute, apply and combine copy into their output (the
// config, the generation config, the tokenizer and chat-template files) are
// parsed strictly before the copy: a broken one is refused with one line
// naming it, and no output is left, instead of surfacing in a later command.
#include <gtest/gtest.h>

#include "hostile/hostile_support.h"

namespace paramdelta::testing {
namespace {

namespace fs = std::filesystem;

struct BrokenJson {
  std::string name;
  std::string text;
  std::string mention;
};

std::vector<BrokenJson> broken_texts() {
  return {
      {"not_json", "{{{", "invalid JSON"},
      {"truncated", "{\"a\": [1, 2", "invalid JSON"},
      {"duplicate_key", R"({"a": 1, "a": 2})", "duplicate JSON key 'a'"},
      {"not_an_object", "[1, 2]", "JSON object"},
      {"too_deep", "{\"x\": " + nested_arrays(100000) + "}", "nested deeper than"},
  };
}

// The JSON files a delta directory carries from the post model.
const std::vector<std::string>& carried_json_names() {
  static const std::vector<std::string> names = {
      "tokenizer.json",         "tokenizer_config.json", "special_tokens_map.json",
      "chat_template.json",     "added_tokens.json",     "vocab.json",
      "generation_config.json",
  };
  return names;
}

class CarriedJson : public ::testing::Test {
 protected:
  void SetUp() override {
    write_small_model(dir / "base", 0);
    write_small_model(dir / "post", 1);
  }
  std::string p(const std::string& name) const { return (dir / name).string(); }
  CommandResult compute(const std::string& output) {
    return run_cli({"compute", "--base", p("base"), "--post", p("post"), "-o", p(output), "--quiet"});
  }
  ScratchDir dir;
};

TEST_F(CarriedJson, ComputeRefusesAPostConfigThatIsNotJson) {
  write_file(dir / "post" / "config.json", "{{{");
  expect_rejected(compute("delta"), {p("post") + "/config.json: ", "invalid JSON"});
  expect_no_output(dir / "delta");
}

TEST_F(CarriedJson, ComputeRefusesEachBrokenTokenizerOrGenerationFileOfThePost) {
  for (const auto& name : carried_json_names()) {
    for (const auto& broken : broken_texts()) {
      SCOPED_TRACE(name + " " + broken.name);
      ScratchDir s;
      write_small_model(s / "base", 0);
      write_small_model(s / "post", 1);
      write_file(s / "post" / name, broken.text);
      expect_rejected(run_cli({"compute", "--base", (s / "base").string(), "--post", (s / "post").string(),
                               "-o", (s / "delta").string(), "--quiet"}),
                      {(s / "post" / name).string() + ": ", broken.mention});
      expect_no_output(s / "delta");
    }
  }
}

TEST_F(CarriedJson, ComputeStillCopiesValidFilesVerbatim) {
  const std::string tokenizer = "{\"version\": \"1.0\",\n \"added_tokens\": []}\n";
  write_file(dir / "post" / "tokenizer.json", tokenizer);
  ASSERT_EQ(compute("delta").exit_code, 0);
  EXPECT_EQ(read_file(dir / "delta" / "tokenizer.json"), tokenizer);
}

TEST_F(CarriedJson, ApplyRefusesABrokenTokenizerFileInTheDelta) {
  write_file(dir / "post" / "tokenizer.json", "{\"version\": \"1.0\"}");
  ASSERT_EQ(compute("delta").exit_code, 0);
  write_file(dir / "delta" / "tokenizer.json", "{{{");
  expect_rejected(run_cli({"apply", "--base", p("base"), "--delta", p("delta"), "-o", p("out"), "--quiet"}),
                  {p("delta") + "/tokenizer.json: ", "invalid JSON"});
  expect_no_output(dir / "out");
}

TEST_F(CarriedJson, ApplyRefusesABrokenGenerationConfigInTheDelta) {
  write_file(dir / "post" / "generation_config.json", "{\"do_sample\": false}");
  ASSERT_EQ(compute("delta").exit_code, 0);
  write_file(dir / "delta" / "generation_config.json", R"({"eos_token_id": 1, "eos_token_id": 2})");
  expect_rejected(run_cli({"apply", "--base", p("base"), "--delta", p("delta"), "-o", p("out"), "--quiet"}),
                  {p("delta") + "/generation_config.json: ", "duplicate JSON key"});
  expect_no_output(dir / "out");
}

TEST_F(CarriedJson, ApplyRefusesABrokenTokenizerFileOfTheNewBaseWhenTheDeltaHasNone) {
  ASSERT_EQ(compute("delta").exit_code, 0);
  write_file(dir / "base" / "special_tokens_map.json", "{\"bos_token\": ");
  expect_rejected(run_cli({"apply", "--base", p("base"), "--delta", p("delta"), "-o", p("out"), "--quiet"}),
                  {p("base") + "/special_tokens_map.json: ", "invalid JSON"});
  expect_no_output(dir / "out");
}

TEST_F(CarriedJson, ApplyRefusesABrokenGenerationConfigOfTheNewBase) {
  ASSERT_EQ(compute("delta").exit_code, 0);
  write_file(dir / "base" / "generation_config.json", "[]");
  expect_rejected(run_cli({"apply", "--base", p("base"), "--delta", p("delta"), "-o", p("out"), "--quiet"}),
                  {p("base") + "/generation_config.json: ", "JSON object"});
  expect_no_output(dir / "out");
}

TEST_F(CarriedJson, CombineRefusesABrokenTokenizerFileInAnInputDelta) {
  write_file(dir / "post" / "tokenizer_config.json", "{\"chat_template\": \"{{ messages }}\"}");
  ASSERT_EQ(compute("delta1").exit_code, 0);
  ASSERT_EQ(compute("delta2").exit_code, 0);
  write_file(dir / "delta2" / "tokenizer_config.json", "{\"chat_template\": ");
  expect_rejected(
      run_cli({"combine", "--delta", p("delta1"), "--delta", p("delta2"), "-o", p("sum"), "--quiet"}),
      {p("delta2") + "/tokenizer_config.json: ", "invalid JSON"});
  expect_no_output(dir / "sum");
}

}  // namespace
}  // namespace paramdelta::testing
