// Legal corners of the format that hostile files are built from: scalars
// (shape []), zero-element tensors (several at one offset), one-element
// tensors, booleans, FP8 and F64. Refusing bad input must not come at the cost
// of refusing these: each operation accepts them and round-trips exactly.
#include <gtest/gtest.h>

#include <cstring>

#include "hostile/hostile_support.h"

namespace paramdelta::testing {
namespace {

namespace fs = std::filesystem;

std::string f32(float v) {
  std::string out(4, '\0');
  std::memcpy(out.data(), &v, 4);
  return out;
}

std::string f64(double v) {
  std::string out(8, '\0');
  std::memcpy(out.data(), &v, 8);
  return out;
}

void write_corner_model(const fs::path& dir, int variant) {
  fs::create_directories(dir);
  SafetensorsParts p;
  p.header["scalar"] = {{"dtype", "F32"}, {"shape", nlohmann::json::array()}, {"data_offsets", {0, 4}}};
  p.header["empty"] = {{"dtype", "BF16"}, {"shape", {0, 3}}, {"data_offsets", {4, 4}}};
  p.header["empty2"] = {{"dtype", "F32"}, {"shape", {3, 0}}, {"data_offsets", {4, 4}}};
  p.header["one"] = {{"dtype", "BF16"}, {"shape", {1}}, {"data_offsets", {4, 6}}};
  p.header["flag"] = {{"dtype", "BOOL"}, {"shape", {2}}, {"data_offsets", {6, 8}}};
  p.header["f8"] = {{"dtype", "F8_E4M3"}, {"shape", {2}}, {"data_offsets", {8, 10}}};
  p.header["f64"] = {{"dtype", "F64"}, {"shape", {1}}, {"data_offsets", {10, 18}}};
  p.data = f32(variant ? 2.0f : 1.0f) + std::string("\x80\x3f", 2) + std::string("\x01\x00", 2) +
           std::string("\x38\x40", 2) + f64(variant ? 2.25 : 1.5);
  write_file(dir / "model.safetensors", p.bytes());
  write_file(dir / "config.json", "{}");
}

TEST(LegalCorners, ComputeApplyVerifyCombineAcceptThem) {
  ScratchDir s;
  write_corner_model(s / "base", 0);
  write_corner_model(s / "post", 1);
  for (const char* delta : {"delta", "delta.safetensors"}) {
    auto r = run_cli({"compute", "--base", (s / "base").string(), "--post", (s / "post").string(), "-o",
                      (s / delta).string(), "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = run_cli({"verify", "--base", (s / "base").string(), "--delta", (s / delta).string(), "--expect",
                 (s / "post").string()});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    r = run_cli({"inspect", (s / delta).string()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
  }
  auto r = run_cli({"apply", "--base", (s / "base").string(), "--delta", (s / "delta").string(), "-o",
                    (s / "out.safetensors").string(), "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_cli({"inspect", "--json", (s / "out.safetensors").string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (const char* name :
       {"\"scalar\"", "\"empty\"", "\"empty2\"", "\"one\"", "\"flag\"", "\"f8\"", "\"f64\""}) {
    EXPECT_NE(r.out.find(name), std::string::npos) << name << " missing from the applied model: " << r.out;
  }
  r = run_cli({"combine", "--delta", (s / "delta").string(), "--delta", (s / "delta.safetensors").string(),
               "-o", (s / "combined").string(), "--quiet"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

}  // namespace
}  // namespace paramdelta::testing
