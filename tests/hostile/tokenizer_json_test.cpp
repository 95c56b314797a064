// Malformed tokenizer.json / tokenizer_config.json through the real command
// line (paramdelta tokenize): each refused with one line naming the file and
// the JSON path of the field, never a crash, a hang or a huge allocation.
#include <gtest/gtest.h>

#include <functional>

#include "hostile/hostile_support.h"

namespace paramdelta::testing {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

// A byte-level BPE tokenizer over a handful of tokens.
json valid_tokenizer() {
  json vocab = json::object();
  const std::vector<std::string> tokens = {"a", "b", "c", "ab", "abc", "<s>"};
  for (std::size_t i = 0; i < tokens.size(); ++i) vocab[tokens[i]] = i;
  return {{"version", "1.0"},
          {"truncation", nullptr},
          {"padding", nullptr},
          {"added_tokens",
           {{{"id", 5},
             {"content", "<s>"},
             {"single_word", false},
             {"lstrip", false},
             {"rstrip", false},
             {"normalized", false},
             {"special", true}}}},
          {"normalizer", nullptr},
          {"pre_tokenizer", nullptr},
          {"post_processor", nullptr},
          {"decoder", nullptr},
          {"model",
           {{"type", "BPE"},
            {"dropout", nullptr},
            {"unk_token", nullptr},
            {"fuse_unk", false},
            {"byte_fallback", false},
            {"ignore_merges", false},
            {"vocab", vocab},
            {"merges", {"a b", "ab c"}}}}};
}

struct TokenizerCase {
  std::string name;
  std::function<std::string()> text;
  std::vector<std::string> mentions;
};

std::string edited(const std::function<void(json&)>& change) {
  json t = valid_tokenizer();
  change(t);
  return t.dump();
}

std::vector<TokenizerCase> tokenizer_cases() {
  return {
      {"not_json", [] { return std::string("{\"model\": "); }, {"invalid JSON"}},
      {"empty", [] { return std::string(); }, {"invalid JSON"}},
      {"not_utf8", [] { return edited([](json&) {}).insert(1, "\"\xff\": 1, "); }, {"invalid JSON"}},
      {"array", [] { return std::string("[]"); }, {}},
      {"deeply_nested",
       [] { return edited([](json&) {}).insert(1, "\"x\": " + nested_arrays(100000) + ", "); },
       {"nested deeper than"}},
      {"duplicate_vocab_key",
       [] {
         std::string t = edited([](json&) {});
         const auto at = t.find("\"vocab\":{") + 9;
         return t.insert(at, "\"a\":3,");
       },
       {"duplicate JSON key 'a'"}},
      {"model_missing", [] { return edited([](json& t) { t.erase("model"); }); }, {"field 'model'"}},
      {"model_type_unknown",
       [] { return edited([](json& t) { t["model"]["type"] = "Unigram"; }); },
       {"field 'model.type'"}},
      {"vocab_not_object",
       [] { return edited([](json& t) { t["model"]["vocab"] = json::array(); }); },
       {"field 'model.vocab'"}},
      {"vocab_id_negative",
       [] { return edited([](json& t) { t["model"]["vocab"]["b"] = -1; }); },
       {"field 'model.vocab.b'"}},
      {"vocab_id_huge",
       [] { return edited([](json& t) { t["model"]["vocab"]["b"] = 1ull << 40; }); },
       {"field 'model.vocab.b'"}},
      {"vocab_id_sparse_max",
       [] { return edited([](json& t) { t["model"]["vocab"]["b"] = 16777215; }); },
       {}},
      {"vocab_id_fraction",
       [] { return edited([](json& t) { t["model"]["vocab"]["b"] = 1.5; }); },
       {"field 'model.vocab.b'"}},
      {"merge_unknown_token",
       [] { return edited([](json& t) { t["model"]["merges"][0] = "a z"; }); },
       {"field 'model.merges[0]'"}},
      {"merge_not_pair",
       [] { return edited([](json& t) { t["model"]["merges"][0] = "ab"; }); },
       {"field 'model.merges[0]'"}},
      {"merge_not_string",
       [] { return edited([](json& t) { t["model"]["merges"][0] = 7; }); },
       {"field 'model.merges[0]'"}},
      {"added_token_id_huge",
       [] { return edited([](json& t) { t["added_tokens"][0]["id"] = 1ull << 33; }); },
       {"field 'added_tokens[0].id'"}},
      // An empty added token must not make matching loop forever: accepted or refused, cleanly.
      {"added_token_empty", [] { return edited([](json& t) { t["added_tokens"][0]["content"] = ""; }); }, {}},
      {"added_tokens_not_array",
       [] { return edited([](json& t) { t["added_tokens"] = 5; }); },
       {"field 'added_tokens'"}},
      {"pre_tokenizer_unknown",
       [] { return edited([](json& t) {
              t["pre_tokenizer"] = {{"type", "Magic"}};
            }); },
       {"field 'pre_tokenizer.type'"}},
      {"regex_invalid",
       [] {
         return edited([](json& t) {
           t["pre_tokenizer"] = {{"type", "Split"},
                                 {"pattern", {{"Regex", "(unclosed"}}},
                                 {"behavior", "Isolated"},
                                 {"invert", false}};
         });
       },
       {"field 'pre_tokenizer.pattern.Regex'"}},
      {"normalizer_unknown",
       [] { return edited([](json& t) {
              t["normalizer"] = {{"type", "NFKC"}};
            }); },
       {"field 'normalizer.type'"}},
      {"decoder_not_object",
       [] { return edited([](json& t) { t["decoder"] = "ByteLevel"; }); },
       {"field 'decoder'"}},
      {"version_unknown", [] { return edited([](json& t) { t["version"] = "2.0"; }); }, {"field 'version'"}},
  };
}

class MalformedTokenizer : public ::testing::TestWithParam<TokenizerCase> {};

TEST_P(MalformedTokenizer, TokenizeRefuses) {
  ScratchDir s;
  const fs::path file = s / "tokenizer.json";
  write_file(file, GetParam().text());
  auto r = run_cli({"tokenize", "--tokenizer", file.string(), "--text", "abc"});
  if (GetParam().mentions.empty() && r.exit_code == 0)
    return;  // a legal corner: accepted is fine, a crash is not
  auto mentions = GetParam().mentions;
  mentions.push_back(file.string() + ": ");
  expect_rejected(r, mentions);
}

INSTANTIATE_TEST_SUITE_P(Hostile, MalformedTokenizer, ::testing::ValuesIn(tokenizer_cases()),
                         [](const auto& info) { return info.param.name; });

TEST(MalformedTokenizerBaseline, ValidTokenizerEncodes) {
  ScratchDir s;
  write_file(s / "tokenizer.json", valid_tokenizer().dump());
  auto r = run_cli({"tokenize", "--tokenizer", (s / "tokenizer.json").string(), "--text", "abc", "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"ids\""), std::string::npos) << r.out;
}

TEST(MalformedTokenizerConfig, TokenizeRefuses) {
  ScratchDir s;
  write_file(s / "tokenizer.json", valid_tokenizer().dump());
  for (const std::string& text :
       {std::string("{\"bos_token\": "), std::string("[]"),
        "{\"chat_template\": " + nested_arrays(1000) + "}", std::string(R"({"add_bos_token": "yes"})")}) {
    write_file(s / "tokenizer_config.json", text);
    expect_rejected(run_cli({"tokenize", "--tokenizer", (s / "tokenizer.json").string(), "--config",
                             (s / "tokenizer_config.json").string(), "--text", "abc"}),
                    {(s / "tokenizer_config.json").string() + ": "});
  }
}

}  // namespace
}  // namespace paramdelta::testing

namespace paramdelta::testing {
namespace {

// A pre-tokenizer pattern that backtracks exponentially: bounded by the regex
// engine's match limit and reported, not a hang.
TEST(HostileTokenizerPattern, CatastrophicBacktrackingIsBounded) {
  ScratchDir s;
  json doc = valid_tokenizer();
  doc["pre_tokenizer"] = {
      {"type", "Split"}, {"pattern", {{"Regex", "(a+)+$"}}}, {"behavior", "Isolated"}, {"invert", false}};
  write_file(s / "tokenizer.json", doc.dump());
  expect_rejected(
      run_cli(
          {"tokenize", "--tokenizer", (s / "tokenizer.json").string(), "--text", std::string(40, 'a') + "!"}),
      {(s / "tokenizer.json").string() + ": ", "field 'pre_tokenizer.pattern.Regex'", "match limit"});
}

}  // namespace
}  // namespace paramdelta::testing
