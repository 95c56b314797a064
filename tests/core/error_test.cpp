#include "paramdelta/error.h"

#include <gtest/gtest.h>

namespace paramdelta {
namespace {

TEST(ErrorLine, NamesFileTensorFieldMessageAndHintInOrder) {
  Error e(ErrorKind::kInvalidInput, "must be a string", ErrorContext{"a.safetensors", "w", "dtype"},
          "fix it");
  EXPECT_EQ(format_error_line(e), "a.safetensors: tensor 'w': field 'dtype': must be a string (fix it)");
}

TEST(ErrorLine, OmitsEmptyParts) {
  EXPECT_EQ(format_error_line(Error(ErrorKind::kIo, "boom")), "boom");
  EXPECT_EQ(format_error_line(Error(ErrorKind::kIo, "boom", ErrorContext{{}, "t", {}})), "tensor 't': boom");
}

TEST(ErrorLine, IsAlwaysOneLine) {
  Error e(ErrorKind::kInvalidInput, "first\nsecond\r\nthird", ErrorContext{"f"}, "hint\nmore");
  const std::string line = format_error_line(e);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(line.find('\r'), std::string::npos);
}

TEST(ErrorContextMerge, FillsOnlyEmptyFields) {
  Error inner(ErrorKind::kMismatch, "m", ErrorContext{{}, "inner_tensor", {}}, "h");
  Error merged = inner.with_context(ErrorContext{"outer.file", "outer_tensor", "outer_field"});
  EXPECT_EQ(merged.context().file, "outer.file");
  EXPECT_EQ(merged.context().tensor, "inner_tensor");
  EXPECT_EQ(merged.context().field, "outer_field");
  EXPECT_EQ(merged.kind(), ErrorKind::kMismatch);
  EXPECT_EQ(merged.hint(), "h");
}

TEST(ThrowInvalid, RaisesInvalidInputWithItsContext) {
  try {
    throw_invalid("file.json", "bad", "t", "f", "h");
    FAIL() << "did not throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    EXPECT_EQ(e.context().file, "file.json");
    EXPECT_EQ(e.context().tensor, "t");
    EXPECT_EQ(e.context().field, "f");
    EXPECT_EQ(e.hint(), "h");
    EXPECT_STREQ(e.what(), "bad");
  }
}

TEST(OptionReferences, AreSpelledInTheLibrarysWordsByDefault) {
  const std::string text =
      "lower " + option_ref("scale") + ", or pass " + option_ref("vocab_mismatch", "overlap");
  EXPECT_EQ(spell_options(text), "lower scale, or pass vocab_mismatch=overlap");
  EXPECT_EQ(referenced_options(text), (std::vector<std::string>{"scale", "vocab_mismatch"}));
}

TEST(OptionReferences, AreSpelledByTheFrontEndThatPrintsThem) {
  const auto flags = [](std::string_view field, std::string_view value) {
    std::string out = "--" + std::string(field);
    if (!value.empty()) out += " " + std::string(value);
    return out;
  };
  Error e(ErrorKind::kUsage, option_ref("scale") + " must be finite", ErrorContext{"f"},
          "or pass " + option_ref("allow", "true") + " and " + option_ref("scale"));
  EXPECT_EQ(format_error_line(e, flags), "f: --scale must be finite (or pass --allow true and --scale)");
  EXPECT_EQ(format_error_line(e), "f: scale must be finite (or pass allow=true and scale)");
  EXPECT_STREQ(e.what(), "scale must be finite");
  EXPECT_EQ(e.message(), "scale must be finite");
  EXPECT_EQ(e.hint(flags), "or pass --allow true and --scale");
  EXPECT_EQ(e.options(), (std::vector<std::string>{"scale", "allow"}));
  // Wrapping in an outer context keeps the references for the front end.
  EXPECT_EQ(format_error_line(e.with_context(ErrorContext{{}, "t", {}}), flags),
            "f: tensor 't': --scale must be finite (or pass --allow true and --scale)");
}

TEST(OptionReferences, TextWithoutThemIsUnchangedAndABrokenOneLeavesNoMarker) {
  EXPECT_EQ(spell_options("plain -- text"), "plain -- text");
  EXPECT_TRUE(referenced_options("plain").empty());
  const std::string broken = option_ref("scale").substr(0, 4) + " end";
  EXPECT_EQ(spell_options(broken), "sca end");
  EXPECT_TRUE(Error(ErrorKind::kUsage, "m").options().empty());
}

}  // namespace
}  // namespace paramdelta
