// tokenizer.json is untrusted input: malformed, unsupported or hostile files
// fail with a paramdelta::Error that names the file and the field.
#include <gtest/gtest.h>

#include "eval/tokenizer_test_support.h"
#include "paramdelta/error.h"

namespace paramdelta::testing {
namespace {

// Loads `text` as tokenizer.json and returns the error's one-line form ("" if it loaded).
std::string load_error(const std::string& text, ErrorKind expected_kind = ErrorKind::kInvalidInput) {
  ScratchDir dir;
  const auto path = dir / "tokenizer.json";
  write_file(path, text);
  try {
    Tokenizer::from_files(path);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), expected_kind) << format_error_line(e);
    const std::string line = format_error_line(e);
    EXPECT_NE(line.find("tokenizer.json"), std::string::npos) << line;
    return line;
  }
  ADD_FAILURE() << "loaded without error: " << text.substr(0, 200);
  return "";
}

json valid_doc() { return tokenizer_doc(bpe_model({"a", "b", "ab"}, {"a b"})); }

TEST(TokenizerErrors, ValidDocumentLoads) {
  ScratchDir dir;
  EXPECT_EQ(load_tokenizer(dir, valid_doc()).encode("ab"), (std::vector<std::int32_t>{2}));
}

TEST(TokenizerErrors, MalformedJsonNamesTheFile) {
  EXPECT_NE(load_error("{\"model\": {\"type\": \"BPE\", ").find("invalid JSON"), std::string::npos);
  EXPECT_NE(load_error("[1, 2, 3]").find("expected an object"), std::string::npos);
  EXPECT_NE(load_error("").find("invalid JSON"), std::string::npos);
}

TEST(TokenizerErrors, NestingDeeperThan64IsRejected) {
  json doc = valid_doc();
  // 70 nested arrays in a field nobody reads: rejected while parsing.
  std::string deep = std::string(70, '[') + std::string(70, ']');
  std::string text = doc.dump();
  text.insert(1, "\"extra\": " + deep + ", ");
  EXPECT_NE(load_error(text).find("deeper than 64"), std::string::npos);
  // 60 levels are fine.
  std::string ok = doc.dump();
  ok.insert(1, "\"extra\": " + std::string(60, '[') + std::string(60, ']') + ", ");
  ScratchDir dir;
  write_file(dir / "tokenizer.json", ok);
  EXPECT_NO_THROW(Tokenizer::from_files(dir / "tokenizer.json"));
}

TEST(TokenizerErrors, UnsupportedComponentsNameFieldAndValue) {
  json doc = valid_doc();
  doc["model"]["type"] = "Unigram";
  std::string line = load_error(doc.dump());
  EXPECT_NE(line.find("field 'model.type'"), std::string::npos) << line;
  EXPECT_NE(line.find("'Unigram'"), std::string::npos) << line;

  doc = valid_doc();
  doc["normalizer"] = json{{"type", "Sequence"}, {"normalizers", json::array({json{{"type", "NFKC"}}})}};
  line = load_error(doc.dump());
  EXPECT_NE(line.find("field 'normalizer.normalizers[0].type'"), std::string::npos) << line;
  EXPECT_NE(line.find("'NFKC'"), std::string::npos) << line;

  doc = valid_doc();
  doc["pre_tokenizer"] = json{{"type", "BertPreTokenizer"}};
  line = load_error(doc.dump());
  EXPECT_NE(line.find("field 'pre_tokenizer.type'"), std::string::npos) << line;

  doc = valid_doc();
  doc["decoder"] = json{{"type", "WordPiece"}, {"prefix", "##"}};
  line = load_error(doc.dump());
  EXPECT_NE(line.find("field 'decoder.type'"), std::string::npos) << line;

  doc = valid_doc();
  doc["post_processor"] = json{{"type", "Whatever"}};
  line = load_error(doc.dump());
  EXPECT_NE(line.find("field 'post_processor.type'"), std::string::npos) << line;

  doc = valid_doc();
  doc["model"]["dropout"] = 0.1;
  line = load_error(doc.dump());
  EXPECT_NE(line.find("field 'model.dropout'"), std::string::npos) << line;

  doc = valid_doc();
  doc["version"] = "2.0";
  line = load_error(doc.dump());
  EXPECT_NE(line.find("field 'version'"), std::string::npos) << line;
}

TEST(TokenizerErrors, BrokenModelsNameTheField) {
  json doc = valid_doc();
  doc.erase("model");
  EXPECT_NE(load_error(doc.dump()).find("field 'model'"), std::string::npos);

  doc = valid_doc();
  doc["model"]["merges"] = json::array({"a c"});
  std::string line = load_error(doc.dump());
  EXPECT_NE(line.find("field 'model.merges[0]'"), std::string::npos) << line;
  EXPECT_NE(line.find("'c'"), std::string::npos) << line;

  doc = valid_doc();
  doc["model"]["merges"] = json::array({"a  b"});
  EXPECT_NE(load_error(doc.dump()).find("field 'model.merges[0]'"), std::string::npos);

  doc = valid_doc();
  doc["model"]["vocab"]["b"] = -3;
  EXPECT_NE(load_error(doc.dump()).find("field 'model.vocab.b'"), std::string::npos);

  doc = valid_doc();
  doc["model"]["vocab"]["b"] = "one";
  EXPECT_NE(load_error(doc.dump()).find("field 'model.vocab.b'"), std::string::npos);

  doc = valid_doc();
  doc["model"]["vocab"]["b"] = 0;  // same id as "a"
  EXPECT_NE(load_error(doc.dump()).find("share id 0"), std::string::npos);

  doc = valid_doc();
  doc["model"]["vocab"]["b"] = 10000000;  // far beyond a 3-entry vocabulary
  EXPECT_NE(load_error(doc.dump()).find("field 'model.vocab'"), std::string::npos);

  doc = valid_doc();
  doc["added_tokens"] = json::array({json{{"id", 3}, {"special", true}}});
  EXPECT_NE(load_error(doc.dump()).find("field 'added_tokens[0].content'"), std::string::npos);

  doc = valid_doc();
  doc["post_processor"] = json::parse(R"({"type": "TemplateProcessing",
      "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
      "pair": [], "special_tokens": {}})");
  EXPECT_NE(load_error(doc.dump()).find("'<s>'"), std::string::npos);
}

TEST(TokenizerErrors, MissingUnkTokenFailsOnlyWhenNeeded) {
  ScratchDir dir;
  json doc = valid_doc();
  doc["model"]["unk_token"] = "<unk>";  // not in the vocabulary: Hugging Face loads it too
  Tokenizer t = load_tokenizer(dir, doc);
  EXPECT_EQ(t.encode("ab"), (std::vector<std::int32_t>{2}));
  try {
    t.encode("abc");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(format_error_line(e).find("field 'model.unk_token'"), std::string::npos)
        << format_error_line(e);
  }
}

TEST(TokenizerErrors, BadPatternsNameTheField) {
  json doc = valid_doc();
  doc["pre_tokenizer"] =
      json{{"type", "Split"}, {"pattern", json{{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}};
  std::string line = load_error(doc.dump());
  EXPECT_NE(line.find("field 'pre_tokenizer.pattern.Regex'"), std::string::npos) << line;

  doc["pre_tokenizer"]["pattern"] = json{{"Regex", "[a[b]]"}};
  line = load_error(doc.dump());
  EXPECT_NE(line.find("nested character classes"), std::string::npos) << line;

  doc["pre_tokenizer"]["pattern"] = json{{"Regex", "a"}};
  doc["pre_tokenizer"]["behavior"] = "Sideways";
  line = load_error(doc.dump());
  EXPECT_NE(line.find("field 'pre_tokenizer.behavior'"), std::string::npos) << line;

  doc["pre_tokenizer"] = json{{"type", "Metaspace"}, {"replacement", "ab"}};
  line = load_error(doc.dump());
  EXPECT_NE(line.find("field 'pre_tokenizer.replacement'"), std::string::npos) << line;

  doc["pre_tokenizer"] = json{{"type", "ByteLevel"}};  // add_prefix_space changes every id: required
  line = load_error(doc.dump());
  EXPECT_NE(line.find("field 'pre_tokenizer.add_prefix_space'"), std::string::npos) << line;
}

TEST(TokenizerErrors, CatastrophicBacktrackingIsStoppedNotHung) {
  ScratchDir dir;
  json doc = valid_doc();
  // Exponential backtracking on a run of a's not followed by b: the engine's limit ends it with an error.
  doc["pre_tokenizer"] =
      json{{"type", "Split"}, {"pattern", json{{"Regex", "(a+)+b"}}}, {"behavior", "Isolated"}};
  Tokenizer t = load_tokenizer(dir, doc);
  EXPECT_EQ(t.encode("aab"), (std::vector<std::int32_t>{0, 2}));
  try {
    t.encode(std::string(64, 'a') + " b");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(format_error_line(e).find("field 'pre_tokenizer.pattern.Regex'"), std::string::npos)
        << format_error_line(e);
  }
}

TEST(TokenizerErrors, InvalidUtf8TextIsRejected) {
  ScratchDir dir;
  Tokenizer t = load_tokenizer(dir, valid_doc());
  try {
    t.encode("ab\xC3(");
    ADD_FAILURE() << "invalid UTF-8 accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    EXPECT_NE(e.message().find("byte 2"), std::string::npos) << e.message();
  }
  EXPECT_THROW(t.encode("\xED\xA0\x80"), Error);  // an encoded surrogate
  EXPECT_THROW(t.encode("\xC0\xAF"), Error);      // an overlong '/'
}

TEST(TokenizerErrors, MissingFilesAndDirectories) {
  ScratchDir dir;
  EXPECT_THROW(Tokenizer::from_files(dir / "nope.json"), Error);
  try {
    Tokenizer::from_model_dir(dir.path());
    ADD_FAILURE() << "a directory without tokenizer.json loaded";
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("tokenizer.json"), std::string::npos);
  }
}

TEST(TokenizerErrors, BadTokenizerConfigNamesTheField) {
  ScratchDir dir;
  write_tokenizer(dir, valid_doc());
  write_file(dir / "tokenizer_config.json", R"({"add_bos_token": "yes"})");
  try {
    Tokenizer::from_model_dir(dir.path());
    ADD_FAILURE() << "loaded";
  } catch (const Error& e) {
    EXPECT_NE(format_error_line(e).find("tokenizer_config.json: field 'add_bos_token'"), std::string::npos)
        << format_error_line(e);
  }
  // add_bos_token without a known BOS token.
  write_file(dir / "tokenizer_config.json", R"({"add_bos_token": true, "bos_token": "<s>"})");
  try {
    Tokenizer::from_model_dir(dir.path());
    ADD_FAILURE() << "loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kMismatch);
    EXPECT_EQ(e.context().field, "bos_token");
  }
}

TEST(TokenizerErrors, CliPrintsOneLineAndFails) {
  ScratchDir dir;
  json doc = valid_doc();
  doc["model"]["type"] = "WordPiece";
  write_tokenizer(dir, doc);
  CommandResult r = run_cli({"tokenize", "--tokenizer", dir.path().string(), "--text", "ab"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("field 'model.type'"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;  // exactly one line
  r = run_cli({"tokenize", "--tokenizer", dir.path().string()});
  EXPECT_EQ(r.exit_code, 2) << r.err;  // no input given: usage error
}

}  // namespace
}  // namespace paramdelta::testing
