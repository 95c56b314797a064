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

}  // namespace
}  // namespace paramdelta
