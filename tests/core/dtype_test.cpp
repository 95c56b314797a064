#include "paramdelta/dtype.h"

#include <gtest/gtest.h>

#include <string>

namespace paramdelta {
namespace {

const DType kAll[] = {DType::kBool,   DType::kU8,  DType::kI8,   DType::kU16, DType::kI16,
                      DType::kU32,    DType::kI32, DType::kU64,  DType::kI64, DType::kF8E4M3,
                      DType::kF8E5M2, DType::kF16, DType::kBF16, DType::kF32, DType::kF64};

TEST(DType, EveryNameParsesBackToItsType) {
  for (DType d : kAll) {
    auto parsed = parse_dtype(dtype_name(d));
    ASSERT_TRUE(parsed.has_value()) << dtype_name(d);
    EXPECT_EQ(*parsed, d);
  }
}

TEST(DType, NamesAreTheSafetensorsSpellings) {
  EXPECT_EQ(dtype_name(DType::kBF16), "BF16");
  EXPECT_EQ(dtype_name(DType::kF8E4M3), "F8_E4M3");
  EXPECT_EQ(dtype_name(DType::kF8E5M2), "F8_E5M2");
  EXPECT_EQ(dtype_name(DType::kBool), "BOOL");
}

TEST(DType, UnknownAndWrongCaseNamesAreRejected) {
  for (const char* bad : {"bf16", "F128", "", "FLOAT", "F8_E4M3FN", "BF16 ", "I4"}) {
    EXPECT_FALSE(parse_dtype(bad).has_value()) << bad;
  }
}

TEST(DType, ElementSizes) {
  EXPECT_EQ(dtype_size(DType::kBool), 1u);
  EXPECT_EQ(dtype_size(DType::kF8E5M2), 1u);
  EXPECT_EQ(dtype_size(DType::kBF16), 2u);
  EXPECT_EQ(dtype_size(DType::kF16), 2u);
  EXPECT_EQ(dtype_size(DType::kI32), 4u);
  EXPECT_EQ(dtype_size(DType::kF32), 4u);
  EXPECT_EQ(dtype_size(DType::kF64), 8u);
  EXPECT_EQ(dtype_size(DType::kU64), 8u);
}

TEST(DType, FloatingAndComputeClassification) {
  int floating = 0, native = 0;
  for (DType d : kAll) {
    floating += is_floating(d);
    native += is_native_compute_type(d);
  }
  EXPECT_EQ(floating, 6);
  EXPECT_EQ(native, 3);
  EXPECT_TRUE(is_native_compute_type(DType::kBF16));
  EXPECT_FALSE(is_native_compute_type(DType::kF64));
  EXPECT_FALSE(is_floating(DType::kBool));
  EXPECT_TRUE(is_floating(DType::kF8E4M3));
}

}  // namespace
}  // namespace paramdelta
