// The strict JSON reader used for every untrusted JSON file.
#include "io/json_strict.h"

#include <gtest/gtest.h>

#include "paramdelta/error.h"
#include "support/test_support.h"

namespace paramdelta {
namespace {

void expect_invalid(const std::string& text, const std::string& message_part) {
  try {
    parse_json_strict(text, "label.json");
    FAIL() << text;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    EXPECT_EQ(e.context().file, "label.json");
    EXPECT_NE(format_error_line(e).find(message_part), std::string::npos) << format_error_line(e);
  }
}

TEST(StrictJson, ParsesOrdinaryJson) {
  auto j = parse_json_strict(R"({"a": [1, 2, {"b": null}], "c": "d"})", "x");
  EXPECT_EQ(j["c"], "d");
  EXPECT_EQ(j["a"].size(), 3u);
}

TEST(StrictJson, RejectsDuplicateKeysAtAnyDepth) {
  expect_invalid(R"({"a": 1, "a": 2})", "duplicate JSON key 'a'");
  expect_invalid(R"({"x": {"b": 1, "b": 1}})", "duplicate JSON key 'b'");
  expect_invalid(R"([{"c": 1}, {"c": 1, "c": 2}])", "duplicate JSON key 'c'");
}

TEST(StrictJson, AllowsTheSameKeyInSiblingObjects) {
  EXPECT_NO_THROW(parse_json_strict(R"({"x": {"k": 1}, "y": {"k": 2}, "k": 3})", "x"));
}

TEST(StrictJson, RejectsNestingBeyondTheLimit) {
  const int limit = 8;
  std::string ok = std::string(limit - 1, '[') + std::string(limit - 1, ']');
  EXPECT_NO_THROW(parse_json_strict(ok, "x", limit));
  std::string deep = std::string(limit + 2, '[') + std::string(limit + 2, ']');
  try {
    parse_json_strict(deep, "label.json", limit);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(format_error_line(e).find("nested deeper"), std::string::npos);
  }
}

TEST(StrictJson, RejectsCommentsAndTruncation) {
  expect_invalid("{\"a\": 1 /* c */}", "invalid JSON");
  expect_invalid("{\"a\": ", "invalid JSON");
  expect_invalid("", "invalid JSON");
}

TEST(StrictJson, RejectsANulByteAndWhatFollowsIt) {
  // The underlying parser would stop at the NUL and never read the rest.
  expect_invalid(std::string("{\"a\": 1}\0{\"b\": 2}", 18), "NUL byte at byte 8");
  expect_invalid(std::string("{\"a\": 1}\0", 9), "NUL byte");
}

TEST(StrictJson, FileReaderRefusesOversizedFilesAndNamesMissingOnes) {
  testing::ScratchDir dir;
  testing::write_file(dir / "big.json", std::string(100, ' ') + "{}");
  EXPECT_THROW(read_json_file((dir / "big.json").string(), 50), Error);
  EXPECT_NO_THROW(read_json_file((dir / "big.json").string(), 200));
  try {
    read_json_file((dir / "missing.json").string());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.context().file, (dir / "missing.json").string());
  }
}

TEST(StrictJsonObjectCheck, AcceptsAnObjectAfterWhitespaceOrAByteOrderMark) {
  EXPECT_NO_THROW(check_json_object_strict(" \n\t{\"a\": 1}", "x.json"));
  EXPECT_NO_THROW(check_json_object_strict("\xEF\xBB\xBF{\"a\": [1]}", "x.json"));
}

TEST(StrictJsonObjectCheck, RefusesOtherValuesAndWhatTheParserRefuses) {
  for (const std::string text : {"[1]", "\"text\"", "3", "{\"a\": 1, \"a\": 2}", "{", ""}) {
    SCOPED_TRACE(text);
    EXPECT_THROW(check_json_object_strict(text, "x.json"), Error);
  }
}

}  // namespace
}  // namespace paramdelta
