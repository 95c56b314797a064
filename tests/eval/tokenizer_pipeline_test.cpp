// The pipelines of the two BPE families, end to end through the public API:
// byte-level (GPT-2 / Llama-3 style) and SentencePiece-style (Llama-2 legacy
// normalizer, Metaspace), plus tokenizer_config.json and the chat template.
#include <gtest/gtest.h>

#include "eval/tokenizer_test_support.h"
#include "paramdelta/error.h"

namespace paramdelta::testing {
namespace {

using Ids = std::vector<std::int32_t>;

// All 256 byte-level characters as tokens (id = byte value), plus merges for "Ġw", "Ġwo".
json byte_level_doc() {
  json vocab = json::object();
  // The byte-level alphabet: printable Latin-1 bytes map to themselves, the rest to U+0100 onwards.
  int next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
    const int cp = printable ? b : next++;
    std::string s;
    if (cp < 0x80) {
      s.push_back(static_cast<char>(cp));
    } else {
      s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
    vocab[s] = b;
  }
  vocab["\xC4\xA0w"] = 256;   // "Ġw"
  vocab["\xC4\xA0wo"] = 257;  // "Ġwo"
  json model = bpe_model({}, {"\xC4\xA0 w", "\xC4\xA0w o"});
  model["vocab"] = vocab;
  json doc = tokenizer_doc(model);
  doc["pre_tokenizer"] = json{{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
  doc["decoder"] = json{{"type", "ByteLevel"}};
  doc["added_tokens"] = json::array({added_token(258, "<|endoftext|>", true)});
  return doc;
}

TEST(TokenizerPipeline, ByteLevelRoundTripsAnyText) {
  ScratchDir dir;
  Tokenizer t = load_tokenizer(dir, byte_level_doc());
  EXPECT_EQ(t.encode("a wo"), (Ids{'a', 257}));
  EXPECT_EQ(t.encode(" w\n"), (Ids{256, '\n'}));
  for (const std::string text :
       {"", "Hello, world!", "caf\xC3\xA9 \xF0\x9F\x98\x80\t\n  x", "a<|endoftext|>b"}) {
    EXPECT_EQ(t.decode(t.encode(text)), text);
  }
  EXPECT_EQ(t.encode("a<|endoftext|>b"), (Ids{'a', 258, 'b'}));
  EXPECT_EQ(t.decode(t.encode("a<|endoftext|>b"), true), "ab");
  // A lone continuation byte decodes to U+FFFD.
  EXPECT_EQ(t.decode(Ids{0xA9}), "\xEF\xBF\xBD");
}

// ▁ pieces with byte fallback, Llama-2 "legacy" normalizer (no pre-tokenizer).
json sentencepiece_doc() {
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    tokens.push_back(name);
  }
  // 259: ▁  260: h  261: i  262: ▁h  263: ▁hi
  for (const char* t : {"\xE2\x96\x81", "h", "i", "\xE2\x96\x81h", "\xE2\x96\x81hi"}) tokens.push_back(t);
  json model = bpe_model(tokens, {"\xE2\x96\x81 h", "\xE2\x96\x81h i"});
  model["byte_fallback"] = true;
  model["unk_token"] = "<unk>";
  model["fuse_unk"] = true;
  json doc = tokenizer_doc(model);
  doc["added_tokens"] =
      json::array({added_token(0, "<unk>", true), added_token(1, "<s>", true), added_token(2, "</s>", true)});
  doc["normalizer"] = json::parse(R"({"type": "Sequence", "normalizers": [
      {"type": "Prepend", "prepend": "\u2581"},
      {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]})");
  doc["decoder"] = json::parse(R"({"type": "Sequence", "decoders": [
      {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
      {"type": "ByteFallback"}, {"type": "Fuse"},
      {"type": "Strip", "content": " ", "start": 1, "stop": 0}]})");
  doc["post_processor"] = json::parse(R"({"type": "TemplateProcessing",
      "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
      "pair": [], "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}})");
  return doc;
}

TEST(TokenizerPipeline, SentencePieceLegacyNormalizerAndByteFallback) {
  ScratchDir dir;
  Tokenizer t = load_tokenizer(dir, sentencepiece_doc());
  EXPECT_EQ(t.encode("hi hi"), (Ids{1, 263, 263}));
  EXPECT_EQ(t.encode("hi", false), (Ids{263}));
  // 'é' is not a piece: its two bytes (3 + byte value).
  EXPECT_EQ(t.encode("hi\xC3\xA9", false), (Ids{263, 3 + 0xC3, 3 + 0xA9}));
  EXPECT_EQ(t.decode(t.encode("hi hi\xC3\xA9")), "<s> hi hi\xC3\xA9");
  EXPECT_EQ(t.decode(t.encode("hi hi\xC3\xA9"), true), "hi hi\xC3\xA9");
  // The prefix is added to each stretch between special tokens (Hugging Face's legacy behaviour).
  EXPECT_EQ(t.encode("hi</s>hi", false), (Ids{263, 2, 263}));
  EXPECT_EQ(t.encode("", true), (Ids{1}));
  EXPECT_EQ(t.bos_id(), 1);
}

TEST(TokenizerPipeline, MetaspaceFirstPrependsOnlyAtTheStartOfTheText) {
  ScratchDir dir;
  json doc = sentencepiece_doc();
  doc["normalizer"] = nullptr;
  doc["pre_tokenizer"] = json::parse(R"({"type": "Metaspace", "replacement": "\u2581",
                                         "prepend_scheme": "first", "split": false})");
  Tokenizer first = load_tokenizer(dir, doc);
  EXPECT_EQ(first.encode("hi</s>hi", false), (Ids{263, 2, 260, 261}));
  doc["pre_tokenizer"]["prepend_scheme"] = "always";
  Tokenizer always = load_tokenizer(dir, doc);
  EXPECT_EQ(always.encode("hi</s>hi", false), (Ids{263, 2, 263}));
  doc["pre_tokenizer"]["prepend_scheme"] = "never";
  Tokenizer never = load_tokenizer(dir, doc);
  EXPECT_EQ(never.encode("hi hi", false), (Ids{260, 261, 263}));
}

TEST(TokenizerPipeline, ConfigControlsBosEosAndChatTemplate) {
  ScratchDir dir;
  write_tokenizer(dir, sentencepiece_doc());
  Tokenizer plain = Tokenizer::from_model_dir(dir.path());
  EXPECT_EQ(plain.encode("hi"), (Ids{1, 263}));
  EXPECT_EQ(plain.eos_id(), std::nullopt);
  EXPECT_EQ(plain.chat_template(), "");
  EXPECT_EQ(plain.chat_template_source(), "");

  write_file(dir / "tokenizer_config.json", R"({"add_bos_token": true, "add_eos_token": true,
      "bos_token": {"content": "<s>", "__type": "AddedToken"}, "eos_token": "</s>",
      "tokenizer_class": "LlamaTokenizer", "chat_template": "{{ bos_token }}{{ messages }}"})");
  Tokenizer both = Tokenizer::from_model_dir(dir.path());
  EXPECT_EQ(both.encode("hi"), (Ids{1, 263, 2}));
  EXPECT_EQ(both.encode("hi", false), (Ids{263}));
  EXPECT_EQ(both.eos_id(), 2);
  EXPECT_EQ(both.chat_template(), "{{ bos_token }}{{ messages }}");
  EXPECT_EQ(both.chat_template_source(), (dir / "tokenizer_config.json").string());

  // Llama classes add BOS unless add_bos_token says otherwise.
  write_file(dir / "tokenizer_config.json", R"({"add_eos_token": true, "eos_token": "</s>",
      "tokenizer_class": "LlamaTokenizerFast"})");
  EXPECT_EQ(Tokenizer::from_model_dir(dir.path()).encode("hi"), (Ids{1, 263, 2}));
  write_file(dir / "tokenizer_config.json", R"({"add_bos_token": false, "chat_template": [
      {"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}]})");
  Tokenizer no_bos = Tokenizer::from_model_dir(dir.path());
  EXPECT_EQ(no_bos.encode("hi"), (Ids{263}));
  EXPECT_EQ(no_bos.chat_template(), "D");

  // chat_template.jinja takes precedence over the config's template.
  write_file(dir / "chat_template.jinja", "{% for m in messages %}{{ m.content }}{% endfor %}");
  Tokenizer with_jinja = Tokenizer::from_model_dir(dir.path());
  EXPECT_EQ(with_jinja.chat_template(), "{% for m in messages %}{{ m.content }}{% endfor %}");
  EXPECT_EQ(with_jinja.chat_template_source(), (dir / "chat_template.jinja").string());
}

TEST(TokenizerPipeline, CliPrintsIdsTokensAndDecodes) {
  ScratchDir dir;
  write_tokenizer(dir, sentencepiece_doc());
  CommandResult r = run_cli({"tokenize", "--tokenizer", dir.path().string(), "--text", "hi hi", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json out = json::parse(r.out);
  EXPECT_EQ(out["ids"], json::array({1, 263, 263}));
  EXPECT_EQ(out["tokens"], json::array({"<s>", "\xE2\x96\x81hi", "\xE2\x96\x81hi"}));
  EXPECT_EQ(out["decoded"], "<s> hi hi");

  r = run_cli({"tokenize", "--tokenizer", (dir / "tokenizer.json").string(), "--text", "hi", "--no-special"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "263\n");

  r = run_cli({"tokenize", "--tokenizer", dir.path().string(), "--decode", "1,263,263", "--skip-special"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hi hi\n");

  write_file(dir / "input.txt", "hi\xC3\xA9");
  r = run_cli({"tokenize", "--tokenizer", dir.path().string(), "--file", (dir / "input.txt").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "1 263 198 172\n");
}

}  // namespace
}  // namespace paramdelta::testing
