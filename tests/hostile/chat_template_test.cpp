// Chat templates found by fuzzing that ran for minutes or exhausted memory,
// through the real command line (paramdelta eval --chat-template): the
// rendering stops at its work or size limit with one line naming the model's
// chat template and the limit, and a benign template in the same place works.
#include <gtest/gtest.h>

#include "eval/eval_test_models.h"
#include "hostile/hostile_support.h"

namespace paramdelta::testing {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// A tiny model whose tokenizer knows "a", "b" and "ab", with `chat_template`
// as its chat_template.jinja.
void write_model_with_template(const fs::path& dir, const std::string& chat_template) {
  write_tiny_model(dir, tiny_llama_config(), tiny_llama_tensors(tiny_llama_config()));
  const json tokenizer = {{"version", "1.0"},
                          {"added_tokens", json::array()},
                          {"normalizer", nullptr},
                          {"pre_tokenizer", nullptr},
                          {"post_processor", nullptr},
                          {"decoder", nullptr},
                          {"model",
                           {{"type", "BPE"},
                            {"unk_token", nullptr},
                            {"vocab", {{"a", 0}, {"b", 1}, {"ab", 2}}},
                            {"merges", {"a b"}}}}};
  write_file(dir / "tokenizer.json", tokenizer.dump());
  write_file(dir / "tokenizer_config.json", "{}");
  write_file(dir / "chat_template.jinja", chat_template);
}

CommandResult eval_with_chat_template(const ScratchDir& s) {
  write_file(s / "tasks.jsonl", R"({"prompt": "ab", "choices": ["a", "b"], "label": 0})"
                                "\n");
  return run_cli({"eval", "--model", (s / "model").string(), "--data", (s / "tasks.jsonl").string(),
                  "--metric", "accuracy", "--chat-template", "--json"});
}

// eval prints a progress line per model before the error: the error must be
// the one line after it (expect_rejected's rule, past that progress line).
void expect_eval_rejected(const CommandResult& r, const std::vector<std::string>& mentions) {
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const std::string progress = "paramdelta: evaluating ";
  ASSERT_EQ(r.err.rfind(progress, 0), 0u) << r.err;
  const std::size_t first_end = r.err.find('\n');
  ASSERT_NE(first_end, std::string::npos) << r.err;
  CommandResult rest = r;
  rest.err = r.err.substr(first_end + 1);
  expect_rejected(rest, mentions);
}

std::string hostile_file(const std::string& name) {
  return read_file(fs::path(PARAMDELTA_SOURCE_DIR) / "tests/data/hostile" / name);
}

TEST(HostileChatTemplate, BenignTemplateRenders) {
  ScratchDir s;
  write_model_with_template(s / "model", "{% for m in messages %}{{ m['content'] }}{% endfor %}");
  const CommandResult r = eval_with_chat_template(s);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["models"][0]["prompt_tokens"], 1) << r.out;  // "ab" is one token
}

TEST(HostileChatTemplate, NestedLoopsStopAtTheWorkLimit) {
  ScratchDir s;
  write_model_with_template(s / "model", hostile_file("chat_template_nested_loops.jinja"));
  expect_eval_rejected(eval_with_chat_template(s),
                       {(s / "model" / "chat_template.jinja").string(), "field 'chat_template'", "line 1",
                        "rendering exceeds the work limit of"});
}

TEST(HostileChatTemplate, StringDoublingStopsAtTheSizeLimit) {
  ScratchDir s;
  write_model_with_template(s / "model", hostile_file("chat_template_doubling.jinja"));
  expect_eval_rejected(eval_with_chat_template(s),
                       {(s / "model" / "chat_template.jinja").string(), "field 'chat_template'", "line 1",
                        "exceeds the size limit of 16 MiB"});
}

}  // namespace
}  // namespace paramdelta::testing
