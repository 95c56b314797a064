// Malformed safetensors files, each read three ways through the real command
// line: inspected, used as the post model of compute, and as the base of apply.
// Every one must be refused with exit code 1 and one line naming the file, the
// tensor or field and the rule broken, with no output left behind.
#include <gtest/gtest.h>

#include <functional>
#include <limits>

#include "hostile/hostile_support.h"

namespace paramdelta::testing {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

struct HeaderCase {
  std::string name;
  std::function<std::string()> make;  // the file's bytes
  std::vector<std::string> mentions;  // besides the file's path
};

std::string mutated(const std::function<void(SafetensorsParts&)>& change) {
  SafetensorsParts parts = valid_parts();
  change(parts);
  return parts.bytes();
}

// Header text is given verbatim (e.g. with a duplicate key nlohmann would merge).
std::string verbatim(const std::string& header, const std::string& data) {
  return safetensors_image(header, data);
}

const std::string kA = R"("a":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,12]})";
const std::string kB = R"("b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]})";
const std::string kData20(20, '\0');

std::vector<HeaderCase> header_cases() {
  const std::uint64_t two60 = 1ull << 60;
  return {
      {"empty_file", [] { return std::string(); }, {"0 bytes", "8-byte header length"}},
      {"short_file", [] { return std::string("\x05\x00\x00", 3); }, {"3 bytes"}},
      {"zero_header_length", [] { return raw_image(0, "", ""); }, {"too short"}},
      {"header_length_past_end",
       [] { return raw_image(1000, "{}", ""); },
       {"header length 1000", "past the end"}},
      {"absurd_header_length", [=] { return raw_image(two60, "{}", ""); }, {"exceeds the limit"}},
      {"max_header_length",
       [] { return raw_image(std::numeric_limits<std::uint64_t>::max(), "{}", ""); },
       {"exceeds the limit"}},
      {"not_json", [] { return verbatim("hello, world", ""); }, {"does not start with '{'"}},
      {"json_array", [] { return verbatim("[1, 2, 3]", ""); }, {"does not start with '{'"}},
      {"byte_order_mark", [] { return verbatim("\xEF\xBB\xBF{}", ""); }, {"does not start with '{'"}},
      {"truncated_json", [] { return verbatim(R"({"a": {"dtype")", ""); }, {"invalid JSON"}},
      {"garbage_after_json", [] { return verbatim("{} trailing", ""); }, {"invalid JSON"}},
      {"non_utf8_name",
       [] {
         return verbatim("{\"a\xff\xfe\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}",
                         std::string(4, '\0'));
       },
       {"invalid JSON"}},
      {"lone_surrogate",
       [] {
         return verbatim(R"({"\ud800":{"dtype":"F32","shape":[],"data_offsets":[0,4]}})",
                         std::string(4, '\0'));
       },
       {"invalid JSON"}},
      {"control_char_in_string", [] { return verbatim("{\"a\tb\":1}", ""); }, {"invalid JSON"}},
      {"deeply_nested",
       [] { return verbatim(R"({"__metadata__":{"k":)" + nested_arrays(100000) + "}}", ""); },
       {"nested deeper than"}},
      {"number_too_large",
       [] {
         return verbatim(R"({"a":{"dtype":"F32","shape":[1e400],"data_offsets":[0,4]}})",
                         std::string(4, '\0'));
       },
       {"invalid JSON"}},
      {"unknown_dtype",
       [] { return mutated([](auto& p) { p.header["a"]["dtype"] = "F33"; }); },
       {"tensor 'a'", "field 'dtype'", "unknown dtype 'F33'"}},
      {"lowercase_dtype",
       [] { return mutated([](auto& p) { p.header["a"]["dtype"] = "bf16"; }); },
       {"tensor 'a'", "unknown dtype"}},
      {"dtype_not_string",
       [] { return mutated([](auto& p) { p.header["a"]["dtype"] = 5; }); },
       {"tensor 'a'", "field 'dtype'", "must be a string"}},
      {"negative_dimension",
       [] { return mutated([](auto& p) {
              p.header["a"]["shape"] = {-2, 3};
            }); },
       {"tensor 'a'", "field 'shape'", "negative"}},
      {"fractional_dimension",
       [] { return mutated([](auto& p) {
              p.header["a"]["shape"] = {2.5, 3};
            }); },
       {"tensor 'a'", "field 'shape'", "not an integer"}},
      {"string_dimension",
       [] { return mutated([](auto& p) {
              p.header["a"]["shape"] = {"2", 3};
            }); },
       {"tensor 'a'", "field 'shape'", "non-negative integer"}},
      {"dimension_above_2_64",
       [] {
         return verbatim(R"({"a":{"dtype":"F32","shape":[18446744073709551616],"data_offsets":[0,4]}})",
                         std::string(4, '\0'));
       },
       {"tensor 'a'", "field 'shape'", "not an integer"}},
      {"shape_not_array",
       [] { return mutated([](auto& p) { p.header["a"]["shape"] = 6; }); },
       {"tensor 'a'", "field 'shape'", "must be an array"}},
      {"negative_offset",
       [] { return mutated([](auto& p) {
              p.header["a"]["data_offsets"] = {-1, 12};
            }); },
       {"tensor 'a'", "field 'data_offsets'", "negative"}},
      {"fractional_offset",
       [] { return mutated([](auto& p) {
              p.header["a"]["data_offsets"] = {0.5, 12};
            }); },
       {"tensor 'a'", "field 'data_offsets'", "not an integer"}},
      {"one_offset",
       [] { return mutated([](auto& p) { p.header["a"]["data_offsets"] = {12}; }); },
       {"tensor 'a'", "field 'data_offsets'", "two integers"}},
      {"three_offsets",
       [] { return mutated([](auto& p) {
              p.header["a"]["data_offsets"] = {0, 6, 12};
            }); },
       {"tensor 'a'", "field 'data_offsets'", "two integers"}},
      {"shape_product_overflow",
       [] { return mutated([](auto& p) {
              p.header["a"]["shape"] = {4294967296ull, 4294967296ull, 2};
            }); },
       {"tensor 'a'", "field 'shape'", "overflows 64 bits"}},
      {"byte_size_overflow",
       [] { return mutated([](auto& p) { p.header["a"]["shape"] = {1ull << 63}; }); },
       {"tensor 'a'", "field 'shape'", "overflows 64 bits"}},
      {"claims_2_pow_60_bytes",
       [=] {
         return mutated([=](auto& p) {
           p.header.erase("b");
           p.header["a"]["shape"] = {two60 / 2};
           p.header["a"]["data_offsets"] = {0ull, two60};
         });
       },
       {"tensor 'a'", "truncated"}},
      {"size_differs_from_shape",
       [] {
         return mutated([](auto& p) {
           p.header["a"]["data_offsets"] = {0, 10};
           p.header["b"]["data_offsets"] = {10, 18};
           p.data.resize(18);
         });
       },
       {"tensor 'a'", "field 'data_offsets'", "holds 10 bytes", "need 12"}},
      {"gap_between_tensors",
       [] {
         return mutated([](auto& p) {
           p.header["b"]["data_offsets"] = {16, 24};
           p.data.insert(12, 4, '\0');
         });
       },
       {"tensor 'b'", "field 'data_offsets'", "gap"}},
      {"overlapping_tensors",
       [] {
         return mutated([](auto& p) {
           p.header["b"]["data_offsets"] = {8, 16};
           p.data.resize(16);
         });
       },
       {"tensor 'b'", "field 'data_offsets'", "overlaps tensor 'a'"}},
      {"end_before_begin",
       [] { return mutated([](auto& p) {
              p.header["b"]["data_offsets"] = {20, 12};
            }); },
       {"tensor 'b'", "field 'data_offsets'", "before begin"}},
      {"not_starting_at_zero",
       [] {
         return mutated([](auto& p) {
           p.header["a"]["data_offsets"] = {4, 16};
           p.header["b"]["data_offsets"] = {16, 24};
           p.data.insert(0, 4, '\0');
         });
       },
       {"tensor 'a'", "instead of 0"}},
      {"trailing_bytes", [] { return mutated([](auto& p) { p.data += "junk"; }); }, {"4 trailing bytes"}},
      {"trailing_bytes_no_tensors", [] { return verbatim("{}", "junk"); }, {"4 trailing bytes"}},
      {"truncated_data",
       [] { return mutated([](auto& p) { p.data.resize(15); }); },
       {"tensor 'b'", "truncated"}},
      {"duplicate_tensor_names",
       [] { return verbatim("{" + kA + "," + kA + "," + kB + "}", kData20); },
       {"duplicate JSON key 'a'"}},
      {"duplicate_metadata_keys",
       [] { return verbatim(R"({"__metadata__":{"k":"1","k":"2"},)" + kA + "," + kB + "}", kData20); },
       {"duplicate JSON key 'k'"}},
      {"metadata_value_number",
       [] { return mutated([](auto& p) { p.header["__metadata__"]["format"] = 1; }); },
       {"field '__metadata__.format'", "must be strings"}},
      {"metadata_value_null",
       [] { return mutated([](auto& p) { p.header["__metadata__"]["x"] = nullptr; }); },
       {"field '__metadata__.x'", "must be strings"}},
      {"metadata_value_object",
       [] { return mutated([](auto& p) {
              p.header["__metadata__"]["x"] = json::object({{"y", "z"}});
            }); },
       {"field '__metadata__.x'", "must be strings"}},
      {"metadata_not_object",
       [] { return mutated([](auto& p) { p.header["__metadata__"] = "pt"; }); },
       {"field '__metadata__'"}},
      {"tensor_named_metadata",
       [] {
         return verbatim(R"({"__metadata__":{"dtype":"F32","shape":[5],"data_offsets":[0,20]}})", kData20);
       },
       {"__metadata__"}},
      {"unknown_entry_field",
       [] { return mutated([](auto& p) {
              p.header["a"]["offsets"] = {0, 12};
            }); },
       {"tensor 'a'", "field 'offsets'", "unknown field"}},
      {"missing_data_offsets",
       [] { return mutated([](auto& p) { p.header["a"].erase("data_offsets"); }); },
       {"tensor 'a'", "field 'data_offsets'", "missing"}},
      {"missing_dtype",
       [] { return mutated([](auto& p) { p.header["a"].erase("dtype"); }); },
       {"tensor 'a'", "field 'dtype'", "missing"}},
      {"entry_not_object",
       [] { return mutated([](auto& p) {
              p.header["a"] = json::array({1, 2});
            }); },
       {"tensor 'a'", "must be an object"}},
      {"nul_then_garbage",
       [] {
         return verbatim(std::string(R"({"a":{"dtype":"F32","shape":[5],"data_offsets":[0,20]}})") +
                             std::string("\0{\"b\":1}", 8),
                         kData20);
       },
       {"NUL byte"}},
  };
}

class MalformedSafetensors : public ::testing::TestWithParam<HeaderCase> {
 protected:
  static void SetUpTestSuite() {
    shared_ = new ScratchDir();
    auto r = write_valid_pair_and_delta(shared_->path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() {
    delete shared_;
    shared_ = nullptr;
  }
  static ScratchDir* shared_;
  ScratchDir scratch_;
};

ScratchDir* MalformedSafetensors::shared_ = nullptr;

TEST_P(MalformedSafetensors, InspectRefuses) {
  const fs::path file = scratch_ / "bad.safetensors";
  write_file(file, GetParam().make());
  auto mentions = GetParam().mentions;
  mentions.push_back(file.string() + ": ");
  expect_rejected(run_cli({"inspect", file.string()}), mentions);
  expect_rejected(run_cli({"inspect", "--json", file.string()}), mentions);
}

TEST_P(MalformedSafetensors, ComputeRefusesAsPostAndLeavesNoOutput) {
  const fs::path file = scratch_ / "post.safetensors";
  write_file(file, GetParam().make());
  const fs::path out = scratch_ / "delta";
  auto mentions = GetParam().mentions;
  mentions.push_back(file.string() + ": ");
  expect_rejected(run_cli({"compute", "--base", (*shared_ / "base").string(), "--post", file.string(), "-o",
                           out.string()}),
                  mentions);
  expect_no_output(out);
}

TEST_P(MalformedSafetensors, ApplyRefusesAsBaseAndLeavesNoOutput) {
  const fs::path dir = scratch_ / "newbase";
  write_model_with_weights(dir, GetParam().make());
  const fs::path out = scratch_ / "out.safetensors";
  auto mentions = GetParam().mentions;
  mentions.push_back((dir / "model.safetensors").string() + ": ");
  expect_rejected(run_cli({"apply", "--base", dir.string(), "--delta", (*shared_ / "delta").string(), "-o",
                           out.string()}),
                  mentions);
  expect_no_output(out);
}

INSTANTIATE_TEST_SUITE_P(Hostile, MalformedSafetensors, ::testing::ValuesIn(header_cases()),
                         [](const auto& info) { return info.param.name; });

// The starting point of every case above is accepted: each rejection is due to its one change.
TEST(MalformedSafetensorsBaseline, ValidPartsAreAccepted) {
  ScratchDir scratch;
  write_file(scratch / "ok.safetensors", valid_parts().bytes());
  auto r = run_cli({"inspect", (scratch / "ok.safetensors").string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  write_file(scratch / "verbatim.safetensors", verbatim("{" + kA + "," + kB + "}", kData20));
  r = run_cli({"inspect", (scratch / "verbatim.safetensors").string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

}  // namespace
}  // namespace paramdelta::testing
