// Every rule of the safetensors format: a file breaking it is rejected with
// kInvalidInput, and the error names the file and, where there is one, the
// tensor and the field concerned.
#include <gtest/gtest.h>

#include <string>

#include "paramdelta/error.h"
#include "paramdelta/safetensors.h"
#include "support/test_support.h"

namespace paramdelta {
namespace {

using testing::safetensors_image;
using testing::ScratchDir;
using testing::write_file;

struct Expected {
  std::string tensor = {};
  std::string field = {};
  std::string message_part = {};
};

// Writes `image` to a file, opens it, and checks the error it must raise.
void expect_rejected(const std::string& image, const Expected& want) {
  ScratchDir dir;
  const auto path = dir / "bad.safetensors";
  write_file(path, image);
  try {
    SafetensorsFile::open(path);
    FAIL() << "accepted a file that breaks a format rule";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput) << format_error_line(e);
    EXPECT_EQ(e.context().file, path.string()) << format_error_line(e);
    if (!want.tensor.empty()) {
      EXPECT_EQ(e.context().tensor, want.tensor) << format_error_line(e);
    }
    if (!want.field.empty()) {
      EXPECT_EQ(e.context().field, want.field) << format_error_line(e);
    }
    if (!want.message_part.empty()) {
      EXPECT_NE(format_error_line(e).find(want.message_part), std::string::npos) << format_error_line(e);
    }
    const std::string line = format_error_line(e);
    EXPECT_EQ(line.find('\n'), std::string::npos);
    EXPECT_EQ(line.rfind(path.string(), 0), 0u) << "the line must start with the file name: " << line;
  }
}

void expect_rejected(const std::string& header, const std::string& data, const Expected& want) {
  expect_rejected(safetensors_image(header, data), want);
}

std::string le64(std::uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return s;
}

const std::string kOneF32 = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";

TEST(SafetensorsHeader, AcceptsAWellFormedFile) {
  ScratchDir dir;
  const std::string header =
      R"({"__metadata__":{"format":"pt"},"b":{"dtype":"BF16","shape":[2],"data_offsets":[8,12]},)"
      R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  write_file(dir / "ok.safetensors", safetensors_image(header, std::string(12, '\x01')));
  auto file = SafetensorsFile::open(dir / "ok.safetensors");
  ASSERT_EQ(file->tensors().size(), 2u);
  EXPECT_EQ(file->tensors()[0].name, "a");  // sorted by offset
  EXPECT_EQ(file->tensors()[1].name, "b");
  EXPECT_EQ(file->metadata().at("format"), "pt");
  ASSERT_NE(file->find("b"), nullptr);
  EXPECT_EQ(file->find("b")->dtype, DType::kBF16);
  EXPECT_EQ(file->data(*file->find("b")).size(), 4u);
  EXPECT_EQ(file->find("missing"), nullptr);
}

TEST(SafetensorsHeader, AcceptsSpacePaddingAfterTheJson) {
  ScratchDir dir;
  write_file(dir / "ok.safetensors", safetensors_image(kOneF32 + "       ", std::string(8, '\0')));
  EXPECT_EQ(SafetensorsFile::open(dir / "ok.safetensors")->tensors().size(), 1u);
}

TEST(SafetensorsHeader, AcceptsJsonWhitespaceBeforeTheObject) {
  ScratchDir dir;
  write_file(dir / "ok.safetensors", safetensors_image(" \n\t\r" + kOneF32, std::string(8, '\0')));
  EXPECT_EQ(SafetensorsFile::open(dir / "ok.safetensors")->tensors().size(), 1u);
}

TEST(SafetensorsHeader, AcceptsNullMetadataAsNone) {
  ScratchDir dir;
  write_file(dir / "ok.safetensors", safetensors_image(R"({"__metadata__":null})", ""));
  EXPECT_TRUE(SafetensorsFile::open(dir / "ok.safetensors")->metadata().empty());
}

TEST(SafetensorsHeader, RejectsANulByteInTheHeader) {
  expect_rejected(kOneF32 + std::string("\0\0", 2), std::string(8, '\0'), {.message_part = "NUL byte"});
  expect_rejected(kOneF32 + std::string("\0garbage", 8), std::string(8, '\0'), {.message_part = "NUL byte"});
}

TEST(SafetensorsHeader, AcceptsZeroElementTensorsAndAnEmptyHeader) {
  ScratchDir dir;
  write_file(dir / "a.safetensors",
             safetensors_image(R"({"e":{"dtype":"F16","shape":[0,4],"data_offsets":[0,0]},)"
                               R"("s":{"dtype":"F32","shape":[],"data_offsets":[0,4]}})",
                               std::string(4, '\0')));
  auto file = SafetensorsFile::open(dir / "a.safetensors");
  EXPECT_EQ(file->find("e")->numel(), 0u);
  EXPECT_EQ(file->find("s")->numel(), 1u);  // a scalar
  write_file(dir / "b.safetensors", safetensors_image("{}", ""));
  EXPECT_TRUE(SafetensorsFile::open(dir / "b.safetensors")->tensors().empty());
}

TEST(SafetensorsHeader, RejectsAFileShorterThanTheLengthPrefix) {
  expect_rejected(std::string("\x05\0\0", 3), {});
  expect_rejected(std::string(), {});
}

TEST(SafetensorsHeader, RejectsAHeaderLengthBeyondTheFile) {
  expect_rejected(le64(1000) + "{}", {.message_part = "runs past the end"});
}

TEST(SafetensorsHeader, RejectsAnAbsurdHeaderLength) {
  expect_rejected(le64(~0ull) + "{}", {.message_part = "exceeds the limit"});
  expect_rejected(le64(kMaxHeaderBytes + 1) + "{}", {.message_part = "exceeds the limit"});
}

TEST(SafetensorsHeader, RejectsATooShortHeader) { expect_rejected(le64(1) + "{", {}); }

TEST(SafetensorsHeader, RejectsNonJson) {
  expect_rejected("{not json}", "", {.message_part = "invalid JSON"});
  expect_rejected(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}} trailing)", std::string(8, '\0'),
                  {.message_part = "invalid JSON"});
  expect_rejected("{\"\xff\xfe\":1}", "", {.message_part = "invalid JSON"});  // not UTF-8
}

TEST(SafetensorsHeader, RejectsAHeaderThatIsNotAnObject) {
  expect_rejected("[1, 2, 3]", "", {});
  expect_rejected("\"text\"", "", {});
  expect_rejected("  \"{}\"", "", {});
}

TEST(SafetensorsHeader, RejectsAnUnknownDtype) {
  expect_rejected(R"({"w":{"dtype":"F128","shape":[2],"data_offsets":[0,8]}})", std::string(8, '\0'),
                  {.tensor = "w", .field = "dtype", .message_part = "F128"});
  expect_rejected(R"({"w":{"dtype":"f32","shape":[2],"data_offsets":[0,8]}})", std::string(8, '\0'),
                  {.tensor = "w", .field = "dtype"});
}

TEST(SafetensorsHeader, RejectsADtypeThatIsNotAString) {
  expect_rejected(R"({"w":{"dtype":4,"shape":[2],"data_offsets":[0,8]}})", std::string(8, '\0'),
                  {.tensor = "w", .field = "dtype"});
}

TEST(SafetensorsHeader, RejectsNegativeDimensions) {
  expect_rejected(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", std::string(8, '\0'),
                  {.tensor = "w", .field = "shape", .message_part = "negative"});
}

TEST(SafetensorsHeader, RejectsFractionalDimensions) {
  expect_rejected(R"({"w":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", std::string(8, '\0'),
                  {.tensor = "w", .field = "shape"});
  expect_rejected(R"({"w":{"dtype":"F32","shape":[1e0, 2],"data_offsets":[0,8]}})", std::string(8, '\0'),
                  {.tensor = "w", .field = "shape"});
}

TEST(SafetensorsHeader, RejectsNumbersTooLargeFor64Bits) {
  expect_rejected(R"({"w":{"dtype":"F32","shape":[18446744073709551616],"data_offsets":[0,8]}})",
                  std::string(8, '\0'), {.tensor = "w", .field = "shape"});
  expect_rejected(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,99999999999999999999999]}})",
                  std::string(8, '\0'), {.tensor = "w", .field = "data_offsets"});
}

TEST(SafetensorsHeader, RejectsNonNumericDimensionsAndShapes) {
  expect_rejected(R"({"w":{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}})", std::string(8, '\0'),
                  {.tensor = "w", .field = "shape"});
  expect_rejected(R"({"w":{"dtype":"F32","shape":2,"data_offsets":[0,8]}})", std::string(8, '\0'),
                  {.tensor = "w", .field = "shape"});
}

TEST(SafetensorsHeader, RejectsAShapeProductThatOverflows) {
  expect_rejected(R"({"w":{"dtype":"U8","shape":[4294967296,4294967296,2],"data_offsets":[0,8]}})",
                  std::string(8, '\0'), {.tensor = "w", .field = "shape", .message_part = "overflows"});
}

TEST(SafetensorsHeader, RejectsAByteSizeThatOverflows) {
  // The element count fits in 64 bits; times 4 bytes it does not.
  expect_rejected(R"({"w":{"dtype":"F32","shape":[4611686018427387905],"data_offsets":[0,8]}})",
                  std::string(8, '\0'), {.tensor = "w", .field = "shape", .message_part = "overflows"});
}

TEST(SafetensorsHeader, RejectsBytesThatDisagreeWithTheShape) {
  expect_rejected(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", std::string(8, '\0'),
                  {.tensor = "w", .field = "data_offsets", .message_part = "need 12"});
}

TEST(SafetensorsHeader, RejectsAGapBetweenTensors) {
  expect_rejected(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                  R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                  std::string(12, '\0'), {.tensor = "b", .field = "data_offsets", .message_part = "gap"});
}

TEST(SafetensorsHeader, RejectsOverlappingTensors) {
  expect_rejected(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                  R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                  std::string(12, '\0'),
                  {.tensor = "b", .field = "data_offsets", .message_part = "overlaps"});
}

TEST(SafetensorsHeader, RejectsTwoTensorsSharingTheSameBytes) {
  expect_rejected(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                  R"("b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                  std::string(8, '\0'), {.field = "data_offsets", .message_part = "overlaps"});
}

TEST(SafetensorsHeader, RejectsEndBeforeBegin) {
  expect_rejected(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", std::string(8, '\0'),
                  {.tensor = "w", .field = "data_offsets", .message_part = "before begin"});
}

TEST(SafetensorsHeader, RejectsAFirstOffsetOtherThanZero) {
  expect_rejected(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", std::string(8, '\0'),
                  {.tensor = "w", .field = "data_offsets", .message_part = "instead of 0"});
}

TEST(SafetensorsHeader, RejectsTrailingBytesAfterTheLastTensor) {
  expect_rejected(kOneF32, std::string(9, '\0'), {.message_part = "trailing"});
  expect_rejected("{}", "x", {.message_part = "trailing"});
}

TEST(SafetensorsHeader, RejectsTruncatedData) {
  expect_rejected(kOneF32, std::string(7, '\0'), {.tensor = "w", .message_part = "truncated"});
}

TEST(SafetensorsHeader, RejectsDuplicateTensorNames) {
  expect_rejected(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                  R"("w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                  std::string(8, '\0'), {.message_part = "duplicate"});
}

TEST(SafetensorsHeader, RejectsDuplicateKeysInsideAnEntry) {
  expect_rejected(R"({"w":{"dtype":"F32","dtype":"F16","shape":[2],"data_offsets":[0,8]}})",
                  std::string(8, '\0'), {.message_part = "duplicate"});
}

TEST(SafetensorsHeader, RejectsNonStringMetadataValues) {
  expect_rejected(R"({"__metadata__":{"epoch":3}})", "",
                  {.field = "__metadata__.epoch", .message_part = "string"});
  expect_rejected(R"({"__metadata__":{"nested":{"a":"b"}}})", "", {.field = "__metadata__.nested"});
  expect_rejected(R"({"__metadata__":{"n":null}})", "", {.field = "__metadata__.n"});
}

TEST(SafetensorsHeader, RejectsMetadataThatIsNotAnObject) {
  expect_rejected(R"({"__metadata__":["format","pt"]})", "", {.field = "__metadata__"});
  expect_rejected(R"({"__metadata__":"pt"})", "", {.field = "__metadata__"});
}

TEST(SafetensorsHeader, RejectsUnknownFieldsInATensorEntry) {
  expect_rejected(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"offset":0}})",
                  std::string(8, '\0'), {.tensor = "w", .field = "offset"});
}

TEST(SafetensorsHeader, RejectsMissingFieldsInATensorEntry) {
  expect_rejected(R"({"w":{"shape":[2],"data_offsets":[0,8]}})", std::string(8, '\0'),
                  {.tensor = "w", .field = "dtype"});
  expect_rejected(R"({"w":{"dtype":"F32","data_offsets":[0,8]}})", std::string(8, '\0'),
                  {.tensor = "w", .field = "shape"});
  expect_rejected(R"({"w":{"dtype":"F32","shape":[2]}})", std::string(8, '\0'),
                  {.tensor = "w", .field = "data_offsets"});
}

TEST(SafetensorsHeader, RejectsMalformedDataOffsets) {
  for (const char* offsets : {"[0]", "[0,8,8]", "\"0-8\"", "[0,\"8\"]", "[-1,7]", "[0.0,8]"}) {
    expect_rejected(std::string(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":)") + offsets + "}}",
                    std::string(8, '\0'), {.tensor = "w", .field = "data_offsets"});
  }
}

TEST(SafetensorsHeader, RejectsAnEntryThatIsNotAnObject) {
  expect_rejected(R"({"w":[1,2]})", "", {.tensor = "w"});
}

TEST(SafetensorsHeader, AcceptsAnEmptyTensorNameAsTheReferenceReaderDoes) {
  ScratchDir dir;
  write_file(
      dir / "a.safetensors",
      safetensors_image(R"({"":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", std::string(4, '\0')));
  EXPECT_NE(SafetensorsFile::open(dir / "a.safetensors")->find(""), nullptr);
}

TEST(SafetensorsHeader, RejectsDeepNesting) {
  std::string deep = std::string(200, '[') + std::string(200, ']');
  expect_rejected(R"({"__metadata__":{"a":)" + deep + "}}", "", {.message_part = "nested deeper"});
  // Far deeper than any stack could take if the parser recursed freely.
  std::string very_deep = std::string(100000, '[') + std::string(100000, ']');
  expect_rejected(R"({"w":)" + very_deep + "}", "", {.message_part = "nested deeper"});
}

TEST(SafetensorsHeader, RejectsADirectoryInPlaceOfAFile) {
  ScratchDir dir;
  std::filesystem::create_directory(dir / "x.safetensors");
  try {
    SafetensorsFile::open(dir / "x.safetensors");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.context().file, (dir / "x.safetensors").string());
  }
}

TEST(SafetensorsHeader, ReportsAMissingFileAsNotFound) {
  ScratchDir dir;
  try {
    SafetensorsFile::open(dir / "absent.safetensors");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
    EXPECT_EQ(e.context().file, (dir / "absent.safetensors").string());
  }
}

TEST(SafetensorsHeader, ParsesStraightFromBytesWithAFileLabel) {
  const std::string image = safetensors_image(kOneF32, std::string(8, '\0'));
  auto bytes = std::as_bytes(std::span(image.data(), image.size()));
  auto header = parse_safetensors_header(bytes, image.size(), "label");
  EXPECT_EQ(header.data_offset(), 8 + kOneF32.size());
  try {
    parse_safetensors_header(bytes, image.size() + 1, "label");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.context().file, "label");
  }
}

}  // namespace
}  // namespace paramdelta
