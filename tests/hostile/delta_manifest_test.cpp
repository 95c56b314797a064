// Malformed deltas: a damaged paramdelta.json, a manifest that disagrees with
// the tensor files, and broken exception lists. A valid delta is computed once
// and each case damages a copy of it; apply (and inspect, where it reads the
// damaged part) must refuse with one line and leave no output.
#include <gtest/gtest.h>

#include <functional>

#include "hostile/hostile_support.h"

namespace paramdelta::testing {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

const char* kManifest = "paramdelta.json";
const char* kExceptions = "exceptions.safetensors";

struct DeltaCase {
  std::string name;
  std::function<void(const fs::path& delta)> damage;
  std::string file;                   // file the error names, relative to the delta directory
  std::vector<std::string> mentions;  // what else it says
  bool inspect_sees_it = true;        // false: only applying reads the damaged part
};

void edit_manifest(const fs::path& delta, const std::function<void(json&)>& change) {
  json m = json::parse(read_file(delta / kManifest));
  change(m);
  write_file(delta / kManifest, m.dump(2));
}

auto manifest_edit(std::function<void(json&)> change) {
  return [change](const fs::path& delta) { edit_manifest(delta, change); };
}

auto manifest_text(std::string text) {
  return [text](const fs::path& delta) { write_file(delta / kManifest, text); };
}

auto exceptions_edit(std::function<void(SafetensorsParts&)> change) {
  return [change](const fs::path& delta) {
    SafetensorsParts p = read_parts(delta / kExceptions);
    change(p);
    write_file(delta / kExceptions, p.bytes());
  };
}

// Byte offset of element `i` of a U32 index tensor inside the data area.
void set_u32(SafetensorsParts& p, const std::string& tensor, std::size_t i, std::uint32_t value) {
  const auto begin = p.header[tensor]["data_offsets"][0].get<std::size_t>();
  for (int b = 0; b < 4; ++b)
    p.data[begin + 4 * i + static_cast<std::size_t>(b)] = static_cast<char>((value >> (8 * b)) & 0xff);
}

std::vector<DeltaCase> delta_cases() {
  return {
      {"manifest_not_json", manifest_text("{\"format\": "), kManifest, {"invalid JSON"}},
      {"manifest_empty", manifest_text(""), kManifest, {"invalid JSON"}},
      {"manifest_is_array", manifest_text("[]"), kManifest, {"must be a JSON object"}},
      {"manifest_deeply_nested",
       manifest_text("{\"format\": " + nested_arrays(100000) + "}"),
       kManifest,
       {"nested deeper than"}},
      {"manifest_duplicate_key",
       [](const fs::path& d) {
         std::string text = read_file(d / kManifest);
         text.insert(text.find('{') + 1, "\"format\": \"paramdelta.delta\",");
         write_file(d / kManifest, text);
       },
       kManifest,
       {"duplicate JSON key 'format'"}},
      {"format_missing",
       manifest_edit([](json& m) { m.erase("format"); }),
       kManifest,
       {"field 'format'", "missing"}},
      {"format_wrong",
       manifest_edit([](json& m) { m["format"] = "safetensors"; }),
       kManifest,
       {"field 'format'", "not a paramdelta delta manifest"}},
      {"format_version_string",
       manifest_edit([](json& m) { m["format_version"] = "1"; }),
       kManifest,
       {"field 'format_version'", "integer"}},
      {"format_version_future",
       manifest_edit([](json& m) { m["format_version"] = 2; }),
       kManifest,
       {"field 'format_version'", "not supported"}},
      {"format_version_negative",
       manifest_edit([](json& m) { m["format_version"] = -1; }),
       kManifest,
       {"field 'format_version'", "not supported"}},
      // 2^32 + 1 must not be read as version 1 by truncation.
      {"format_version_wraps",
       manifest_edit([](json& m) { m["format_version"] = 4294967297ull; }),
       kManifest,
       {"field 'format_version'", "not supported"}},
      {"tool_not_string", manifest_edit([](json& m) { m["tool"] = 5; }), kManifest, {"field 'tool'"}},
      {"operation_not_string",
       manifest_edit([](json& m) { m["operation"] = json::array(); }),
       kManifest,
       {"field 'operation'"}},
      {"encoding_missing",
       manifest_edit([](json& m) { m.erase("encoding"); }),
       kManifest,
       {"field 'encoding'", "missing"}},
      {"encoding_not_object",
       manifest_edit([](json& m) { m["encoding"] = "plain"; }),
       kManifest,
       {"encoding"}},
      {"encoding_unknown",
       manifest_edit([](json& m) { m["encoding"]["name"] = "zstd"; }),
       kManifest,
       {"field 'encoding.name'", "unknown encoding 'zstd'"}},
      {"lossless_not_bool",
       manifest_edit([](json& m) { m["encoding"]["lossless"] = "yes"; }),
       kManifest,
       {"field 'encoding.lossless'"}},
      {"exceptions_location_not_string",
       manifest_edit([](json& m) { m["encoding"]["exceptions"] = 1; }),
       kManifest,
       {"field 'encoding.exceptions'"}},
      {"exceptions_location_escapes",
       [](const fs::path& d) {
         fs::copy_file(d / kExceptions, d.parent_path() / kExceptions);
         edit_manifest(d, [](json& m) { m["encoding"]["exceptions"] = std::string("../") + kExceptions; });
       },
       kManifest,
       {"field 'encoding.exceptions'", "not a plain file name"}},
      {"exceptions_location_absolute",
       manifest_edit([](json& m) { m["encoding"]["exceptions"] = "/etc/passwd"; }),
       kManifest,
       {"field 'encoding.exceptions'", "not a plain file name"}},
      {"exceptions_file_missing",
       [](const fs::path& d) { fs::remove(d / kExceptions); },
       kExceptions,
       {"no such file"}},
      {"exceptions_file_truncated",
       [](const fs::path& d) {
         const std::string bytes = read_file(d / kExceptions);
         write_file(d / kExceptions, bytes.substr(0, bytes.size() - 1));
       },
       kExceptions,
       {"truncated"}},
      {"base_tensor_bytes_not_number",
       manifest_edit([](json& m) { m["base"]["tensor_bytes"] = "many"; }),
       kManifest,
       {"field 'base.tensor_bytes'"}},
      {"base_source_not_string",
       manifest_edit([](json& m) { m["base"]["source"] = json::object(); }),
       kManifest,
       {"field 'base.source'"}},
      {"base_model_type_not_string",
       manifest_edit([](json& m) { m["base"]["model_type"] = 3; }),
       kManifest,
       {"field 'base.model_type'"}},
      {"post_architectures_not_list",
       manifest_edit([](json& m) { m["post"]["architectures"] = "LlamaForCausalLM"; }),
       kManifest,
       {"field 'post.architectures'"}},
      {"base_architectures_not_strings",
       manifest_edit([](json& m) { m["base"]["architectures"] = {1}; }),
       kManifest,
       {"field 'base.architectures'"}},
      {"architecture_policy_not_string",
       manifest_edit([](json& m) { m["policies"]["architecture_mismatch"] = true; }),
       kManifest,
       {"field 'policies.architecture_mismatch'"}},
      {"vocab_policy_not_string",
       manifest_edit([](json& m) { m["policies"]["vocab_mismatch"] = 1; }),
       kManifest,
       {"field 'policies.vocab_mismatch'"}},
      {"allow_non_finite_not_bool",
       manifest_edit([](json& m) { m["policies"]["allow_non_finite"] = "true"; }),
       kManifest,
       {"field 'policies.allow_non_finite'"}},
      {"tensors_missing",
       manifest_edit([](json& m) { m.erase("tensors"); }),
       kManifest,
       {"field 'tensors'", "missing"}},
      {"tensors_not_object",
       manifest_edit([](json& m) { m["tensors"] = json::array(); }),
       kManifest,
       {"field 'tensors'", "must be an object"}},
      {"tensor_entry_not_object",
       manifest_edit([](json& m) { m["tensors"]["a"] = 3; }),
       kManifest,
       {"tensor 'a'", "must be an object"}},
      {"tensor_kind_unknown",
       manifest_edit([](json& m) { m["tensors"]["a"]["kind"] = "sum"; }),
       kManifest,
       {"tensor 'a'", "field 'kind'", "unknown kind 'sum'"}},
      {"tensor_kind_not_string",
       manifest_edit([](json& m) { m["tensors"]["a"]["kind"] = 1; }),
       kManifest,
       {"tensor 'a'", "field 'kind'"}},
      {"tensor_dtype_unknown",
       manifest_edit([](json& m) { m["tensors"]["a"]["dtype"] = "F33"; }),
       kManifest,
       {"tensor 'a'", "field 'dtype'", "unknown dtype"}},
      {"tensor_shape_negative",
       manifest_edit([](json& m) {
         m["tensors"]["a"]["shape"] = {-2, 3};
       }),
       kManifest,
       {"tensor 'a'", "field 'shape'", "non-negative"}},
      {"tensor_shape_float",
       manifest_edit([](json& m) {
         m["tensors"]["a"]["shape"] = {2.0, 3};
       }),
       kManifest,
       {"tensor 'a'", "field 'shape'", "non-negative"}},
      {"tensor_shape_differs",
       manifest_edit([](json& m) {
         m["tensors"]["a"]["shape"] = {3, 2};
       }),
       "",
       {"tensor 'a'", "differs between the manifest and the tensor file"}},
      {"tensor_dtype_differs",
       manifest_edit([](json& m) { m["tensors"]["a"]["dtype"] = "F16"; }),
       "",
       {"tensor 'a'", "differs between the manifest and the tensor file"}},
      {"base_dtype_missing",
       manifest_edit([](json& m) { m["tensors"]["a"].erase("base_dtype"); }),
       kManifest,
       {"tensor 'a'", "field 'base_dtype'", "missing"}},
      {"base_checksum_not_string",
       manifest_edit([](json& m) { m["tensors"]["a"]["base_checksum"] = 12; }),
       kManifest,
       {"tensor 'a'", "field 'base_checksum'"}},
      {"exceptions_negative",
       manifest_edit([](json& m) { m["tensors"]["a"]["exceptions"] = -1; }),
       kManifest,
       {"tensor 'a'", "field 'exceptions'", "non-negative"}},
      {"delta_rows_too_many",
       manifest_edit([](json& m) { m["tensors"]["a"]["delta_rows"] = 3; }),
       kManifest,
       {"tensor 'a'", "field 'delta_rows'", "exceeds"}},
      {"tensor_missing_from_files",
       manifest_edit([](json& m) { m["tensors"]["ghost"] = m["tensors"]["b"]; }),
       "",
       {"tensor 'ghost'", "missing from the delta's tensors"}},
      {"tensor_missing_from_manifest",
       manifest_edit([](json& m) { m["tensors"].erase("b"); }),
       "",
       {"tensor 'b'", "not in its manifest"}},
      {"removed_tensors_not_strings",
       manifest_edit([](json& m) {
         m["removed_tensors"] = {1, 2};
       }),
       kManifest,
       {"field 'removed_tensors'", "array of strings"}},
      {"exception_count_too_high",
       manifest_edit(
           [](json& m) { m["tensors"]["a"]["exceptions"] = m["tensors"]["a"]["exceptions"].get<int>() + 1; }),
       kExceptions,
       {"tensor 'a'", "number of entries"},
       false},
      {"exception_count_absurd",
       manifest_edit([](json& m) { m["tensors"]["a"]["exceptions"] = 1ull << 62; }),
       kExceptions,
       {"tensor 'a'", "number of entries"},
       false},
      {"exception_index_out_of_range",
       exceptions_edit([](SafetensorsParts& p) { set_u32(p, "a::exceptions.index", 1, 6); }),
       kExceptions,
       {"tensor 'a'", "field 'index[1]'", "below 6"},
       false},
      {"exception_index_huge",
       exceptions_edit([](SafetensorsParts& p) { set_u32(p, "a::exceptions.index", 1, 0xffffffffu); }),
       kExceptions,
       {"tensor 'a'", "field 'index[1]'", "below 6"},
       false},
      {"exception_index_not_increasing",
       exceptions_edit([](SafetensorsParts& p) {
         set_u32(p, "a::exceptions.index", 0, 2);
         set_u32(p, "a::exceptions.index", 1, 2);
       }),
       kExceptions,
       {"tensor 'a'", "field 'index[1]'", "increasing"},
       false},
      {"exception_index_float",
       exceptions_edit([](SafetensorsParts& p) { p.header["a::exceptions.index"]["dtype"] = "F32"; }),
       kExceptions,
       {"tensor 'a'", "U32 or I64"},
       false},
      {"exception_values_wrong_dtype",
       exceptions_edit([](SafetensorsParts& p) { p.header["a::exceptions.post"]["dtype"] = "F16"; }),
       kExceptions,
       {"tensor 'a'", "wrong dtype"},
       false},
      {"exception_list_missing",
       exceptions_edit([](SafetensorsParts& p) {
         p.header["a::exceptions.postx"] = p.header["a::exceptions.post"];
         p.header.erase("a::exceptions.post");
       }),
       kExceptions,
       {"tensor 'a'", "exception lists missing"},
       false},
  };
}

class MalformedDelta : public ::testing::TestWithParam<DeltaCase> {
 protected:
  static void SetUpTestSuite() {
    shared_ = new ScratchDir();
    auto r = write_valid_pair_and_delta(shared_->path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // The cases below rely on tensor "a" having at least two exceptions.
    json m = json::parse(read_file(*shared_ / "delta" / kManifest));
    ASSERT_GE(m["tensors"]["a"]["exceptions"].get<int>(), 2) << m.dump(2);
  }
  static void TearDownTestSuite() {
    delete shared_;
    shared_ = nullptr;
  }
  fs::path damaged() {
    const fs::path d = scratch_ / "delta";
    fs::copy(*shared_ / "delta", d, fs::copy_options::recursive);
    GetParam().damage(d);
    return d;
  }
  std::vector<std::string> mentions(const fs::path& d) const {
    auto m = GetParam().mentions;
    m.push_back((GetParam().file.empty() ? d : d / GetParam().file).string() + ": ");
    return m;
  }
  static ScratchDir* shared_;
  ScratchDir scratch_;
};

ScratchDir* MalformedDelta::shared_ = nullptr;

TEST_P(MalformedDelta, ApplyRefusesAndLeavesNoOutput) {
  const fs::path d = damaged();
  for (const char* name : {"out", "out.safetensors"}) {
    const fs::path out = scratch_ / name;
    expect_rejected(run_cli({"apply", "--base", (*shared_ / "base").string(), "--delta", d.string(), "-o",
                             out.string(), "--quiet"}),
                    mentions(d));
    expect_no_output(out);
  }
}

TEST_P(MalformedDelta, VerifyRefuses) {
  const fs::path d = damaged();
  expect_rejected(run_cli({"verify", "--base", (*shared_ / "base").string(), "--delta", d.string(),
                           "--expect", (*shared_ / "post").string()}),
                  mentions(d));
}

INSTANTIATE_TEST_SUITE_P(Hostile, MalformedDelta, ::testing::ValuesIn(delta_cases()),
                         [](const auto& info) { return info.param.name; });

// inspect reads the manifest and the tensor files, not the exception lists.
class MalformedDeltaInspected : public MalformedDelta {};

TEST_P(MalformedDeltaInspected, InspectRefuses) {
  const fs::path d = damaged();
  expect_rejected(run_cli({"inspect", d.string()}), mentions(d));
}

std::vector<DeltaCase> inspected_cases() {
  std::vector<DeltaCase> out;
  for (auto& c : delta_cases()) {
    if (c.inspect_sees_it) out.push_back(c);
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Hostile, MalformedDeltaInspected, ::testing::ValuesIn(inspected_cases()),
                         [](const auto& info) { return info.param.name; });

TEST(MalformedDeltaBaseline, UndamagedDeltaApplies) {
  ScratchDir s;
  write_small_model(s / "base", 0);
  write_small_model(s / "post", 1);
  ASSERT_EQ(run_cli({"compute", "--base", (s / "base").string(), "--post", (s / "post").string(), "-o",
                     (s / "delta").string(), "--quiet"})
                .exit_code,
            0);
  auto r = run_cli({"verify", "--base", (s / "base").string(), "--delta", (s / "delta").string(), "--expect",
                    (s / "post").string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  // Unknown extra fields are tolerated (forward compatibility), so the cases above fail for their one damage.
  json m = json::parse(read_file(s / "delta" / kManifest));
  m["future_field"] = {{"x", 1}};
  write_file(s / "delta" / kManifest, m.dump());
  r = run_cli({"apply", "--base", (s / "base").string(), "--delta", (s / "delta").string(), "-o",
               (s / "out").string(), "--quiet"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

// A single-file delta carries its manifest in the header metadata.
TEST(MalformedDeltaSingleFile, ManifestMetadataNotJson) {
  ScratchDir s;
  write_small_model(s / "base", 0);
  write_small_model(s / "post", 1);
  const fs::path delta = s / "delta.safetensors";
  ASSERT_EQ(run_cli({"compute", "--base", (s / "base").string(), "--post", (s / "post").string(), "-o",
                     delta.string(), "--quiet"})
                .exit_code,
            0);
  SafetensorsParts p = read_parts(delta);
  ASSERT_TRUE(p.header["__metadata__"].contains("paramdelta.manifest"));
  p.header["__metadata__"]["paramdelta.manifest"] = "{\"format\": [";
  write_file(delta, p.bytes());
  const fs::path out = s / "out";
  expect_rejected(
      run_cli({"apply", "--base", (s / "base").string(), "--delta", delta.string(), "-o", out.string()}),
      {delta.string(), "paramdelta.manifest", "invalid JSON"});
  expect_no_output(out);
  expect_rejected(run_cli({"inspect", delta.string()}), {delta.string(), "invalid JSON"});
}

}  // namespace
}  // namespace paramdelta::testing
