// Malformed sharded checkpoints: a broken model.safetensors.index.json, shard
// names that try to leave the directory, and shards that disagree with the
// index. Each is inspected, used as compute's post model and as apply's base.
#include <gtest/gtest.h>

#include <functional>

#include "hostile/hostile_support.h"

namespace paramdelta::testing {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

const char* kShard1 = "model-00001-of-00002.safetensors";
const char* kShard2 = "model-00002-of-00002.safetensors";
const char* kIndex = "model.safetensors.index.json";

SafetensorsParts only(const std::vector<std::string>& names) {
  // Tensors of valid_parts() laid out again from offset 0, in the order given.
  const SafetensorsParts all = valid_parts();
  SafetensorsParts parts;
  std::uint64_t offset = 0;
  for (const auto& name : names) {
    json entry = all.header.at(name);
    const auto begin = entry["data_offsets"][0].get<std::uint64_t>();
    const auto end = entry["data_offsets"][1].get<std::uint64_t>();
    parts.data += all.data.substr(begin, end - begin);
    entry["data_offsets"] = {offset, offset + (end - begin)};
    offset += end - begin;
    parts.header[name] = entry;
  }
  return parts;
}

json valid_index() {
  return {{"metadata", {{"total_size", 20}}}, {"weight_map", {{"a", kShard1}, {"b", kShard2}}}};
}

// A valid two-shard model directory, then `change` applied to it.
void write_sharded(const fs::path& dir, const std::function<void(const fs::path&, json&)>& change) {
  fs::create_directories(dir);
  write_file(dir / kShard1, only({"a"}).bytes());
  write_file(dir / kShard2, only({"b"}).bytes());
  write_file(dir / "config.json", R"({"model_type": "llama"})");
  json index = valid_index();
  change(dir, index);
  if (!fs::exists(dir / kIndex)) write_file(dir / kIndex, index.dump());
}

struct IndexCase {
  std::string name;
  std::function<void(const fs::path&, json&)> change;
  std::string file;  // the file the error must name (relative to the directory)
  std::vector<std::string> mentions;
};

void map_b_to(json& index, const std::string& shard) { index["weight_map"]["b"] = shard; }

std::vector<IndexCase> index_cases() {
  auto text = [](const std::string& t) {
    return [t](const fs::path& dir, json&) { write_file(dir / kIndex, t); };
  };
  return {
      {"index_not_json", text("{\"weight_map\": "), kIndex, {"invalid JSON"}},
      {"index_empty_file", text(""), kIndex, {"invalid JSON"}},
      {"index_not_utf8", text("{\"weight_map\": {\"a\xff\": \"x\"}}"), kIndex, {"invalid JSON"}},
      {"index_is_array", text("[]"), kIndex, {"must be a JSON object"}},
      {"weight_map_missing",
       [](const fs::path&, json& i) { i.erase("weight_map"); },
       kIndex,
       {"field 'weight_map'", "missing"}},
      {"weight_map_not_object",
       [](const fs::path&, json& i) { i["weight_map"] = json::array(); },
       kIndex,
       {"field 'weight_map'"}},
      {"weight_map_empty",
       [](const fs::path&, json& i) { i["weight_map"] = json::object(); },
       kIndex,
       {"field 'weight_map'", "empty"}},
      {"shard_name_number",
       [](const fs::path&, json& i) { i["weight_map"]["b"] = 2; },
       kIndex,
       {"tensor 'b'", "must be a string"}},
      {"shard_name_null",
       [](const fs::path&, json& i) { i["weight_map"]["b"] = nullptr; },
       kIndex,
       {"tensor 'b'", "must be a string"}},
      {"shard_in_parent_directory",
       [](const fs::path& dir, json& i) {
         // A perfectly valid file sits there: it must not be read.
         write_file(dir.parent_path() / "x.safetensors", only({"b"}).bytes());
         map_b_to(i, "../x.safetensors");
       },
       kIndex,
       {"tensor 'b'", "'../x.safetensors'", "not a plain file name"}},
      {"shard_absolute_path",
       [](const fs::path&, json& i) { map_b_to(i, "/etc/passwd"); },
       kIndex,
       {"tensor 'b'", "not a plain file name"}},
      {"shard_in_subdirectory",
       [](const fs::path& dir, json& i) {
         fs::create_directories(dir / "sub");
         write_file(dir / "sub" / "x.safetensors", only({"b"}).bytes());
         map_b_to(i, "sub/x.safetensors");
       },
       kIndex,
       {"tensor 'b'", "not a plain file name"}},
      {"shard_backslash_escape",
       [](const fs::path&, json& i) { map_b_to(i, "..\\x.safetensors"); },
       kIndex,
       {"tensor 'b'", "not a plain file name"}},
      {"shard_dot_dot",
       [](const fs::path&, json& i) { map_b_to(i, ".."); },
       kIndex,
       {"tensor 'b'", "not a plain file name"}},
      {"shard_dot",
       [](const fs::path&, json& i) { map_b_to(i, "."); },
       kIndex,
       {"tensor 'b'", "not a plain file name"}},
      {"shard_empty_name",
       [](const fs::path&, json& i) { map_b_to(i, ""); },
       kIndex,
       {"tensor 'b'", "not a plain file name"}},
      {"shard_name_with_nul",
       [](const fs::path& dir, json& i) {
         map_b_to(i, std::string(kShard2) + std::string(1, '\0') + "x");
         write_file(dir / kIndex, i.dump());
       },
       kIndex,
       {"tensor 'b'", "not a plain file name"}},
      {"shard_is_directory",
       [](const fs::path& dir, json& i) {
         fs::create_directories(dir / "adir.safetensors");
         map_b_to(i, "adir.safetensors");
       },
       "adir.safetensors",
       {"not a regular file"}},
      {"missing_shard",
       [](const fs::path&, json& i) { map_b_to(i, "model-00003-of-00003.safetensors"); },
       kIndex,
       {"field 'weight_map'", "'model-00003-of-00003.safetensors'", "does not exist"}},
      {"tensor_absent_from_its_shard",
       [](const fs::path&, json& i) { i["weight_map"]["c"] = kShard1; },
       kIndex,
       {"tensor 'c'", "does not contain it"}},
      {"tensor_mapped_to_wrong_shard",
       [](const fs::path&, json& i) { i["weight_map"]["a"] = kShard2; },
       kIndex,
       {"tensor 'a'", "does not contain it"}},
      {"two_shards_claim_one_tensor",
       [](const fs::path& dir, json&) {
         write_file(dir / kShard2, only({"a", "b"}).bytes());
       },
       kIndex,
       {"tensor 'a'", "both shard"}},
      {"shard_holds_unlisted_tensor",
       [](const fs::path& dir, json& i) {
         SafetensorsParts p = only({"b"});
         p.header["c"] = {{"dtype", "U8"}, {"shape", {2}}, {"data_offsets", {8, 10}}};
         p.data += "zz";
         write_file(dir / kShard2, p.bytes());
         (void)i;
       },
       kIndex,
       {"tensor 'c'", "does not list"}},
      {"duplicate_key_in_weight_map",
       text(std::string(R"({"weight_map": {"a": ")") + kShard1 + R"(", "b": ")" + kShard2 + R"(", "a": ")" +
            kShard2 + R"("}})"),
       kIndex,
       {"duplicate JSON key 'a'"}},
      {"deeply_nested_index", [](const fs::path&, json&) {}, kIndex, {"nested deeper than"}},
      {"index_too_large", [](const fs::path&, json&) {}, kIndex, {"more than"}},
      {"malformed_shard",
       [](const fs::path& dir, json&) {
         std::string bytes = only({"b"}).bytes();
         write_file(dir / kShard2, bytes.substr(0, bytes.size() - 3));
       },
       kShard2,
       {"tensor 'b'", "truncated"}},
  };
}

void build_case(const fs::path& dir, const IndexCase& c) {
  write_sharded(dir, c.change);
  if (c.name == "deeply_nested_index") {
    write_file(dir / kIndex,
               R"({"metadata": )" + nested_arrays(50000) + R"(, "weight_map": {"a": ")" + kShard1 + R"("}})");
  } else if (c.name == "index_too_large") {
    // A sparse file larger than any index may be: refused by its size, without reading it.
    fs::resize_file(dir / kIndex, 65ull << 20);
  }
}

class MalformedIndex : public ::testing::TestWithParam<IndexCase> {
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
  std::vector<std::string> mentions(const fs::path& dir) const {
    auto m = GetParam().mentions;
    m.push_back((dir / GetParam().file).string() + ": ");
    return m;
  }
  static ScratchDir* shared_;
  ScratchDir scratch_;
};

ScratchDir* MalformedIndex::shared_ = nullptr;

TEST_P(MalformedIndex, InspectRefuses) {
  const fs::path dir = scratch_ / "model";
  build_case(dir, GetParam());
  expect_rejected(run_cli({"inspect", dir.string()}), mentions(dir));
}

TEST_P(MalformedIndex, ComputeRefusesAsPostAndLeavesNoOutput) {
  const fs::path dir = scratch_ / "model";
  build_case(dir, GetParam());
  const fs::path out = scratch_ / "delta";
  expect_rejected(run_cli({"compute", "--base", (*shared_ / "base").string(), "--post", dir.string(), "-o",
                           out.string(), "--quiet"}),
                  mentions(dir));
  expect_no_output(out);
}

TEST_P(MalformedIndex, ApplyRefusesAsBaseAndLeavesNoOutput) {
  const fs::path dir = scratch_ / "model";
  build_case(dir, GetParam());
  const fs::path out = scratch_ / "out";
  expect_rejected(run_cli({"apply", "--base", dir.string(), "--delta", (*shared_ / "delta").string(), "-o",
                           out.string(), "--quiet"}),
                  mentions(dir));
  expect_no_output(out);
}

INSTANTIATE_TEST_SUITE_P(Hostile, MalformedIndex, ::testing::ValuesIn(index_cases()),
                         [](const auto& info) { return info.param.name; });

TEST(MalformedIndexBaseline, ValidShardedModelIsAccepted) {
  ScratchDir scratch;
  write_sharded(scratch / "model", [](const fs::path&, json&) {});
  auto r = run_cli({"inspect", (scratch / "model").string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("2 tensors in 2 file(s)"), std::string::npos) << r.out;
}

// Many tensors in one shard: opening must stay fast (no quadratic matching of
// the index against the shards); a hang here shows as the test timing out.
TEST(MalformedIndexBaseline, LargeIndexOpens) {
  ScratchDir scratch;
  const fs::path dir = scratch / "model";
  fs::create_directories(dir);
  // Text built directly: ordered JSON objects would make the test itself quadratic.
  std::string index = R"({"weight_map": {)", header1 = "{", header2 = "{";
  std::uint64_t size1 = 0, size2 = 0;
  const int n = 60000;
  for (int i = 0; i < n; ++i) {
    const std::string name = "t" + std::to_string(i);
    index += (i ? ",\"" : "\"") + name + "\": \"" + (i % 2 ? kShard1 : kShard2) + "\"";
    std::string& header = i % 2 ? header1 : header2;
    std::uint64_t& size = i % 2 ? size1 : size2;
    header += (size ? ",\"" : "\"") + name + R"(": {"dtype": "U8", "shape": [1], "data_offsets": [)" +
              std::to_string(size) + ", " + std::to_string(size + 1) + "]}";
    ++size;
  }
  write_file(dir / kShard1, safetensors_image(header1 + "}", std::string(size1, 'x')));
  write_file(dir / kShard2, safetensors_image(header2 + "}", std::string(size2, 'x')));
  write_file(dir / kIndex, index + "}}");
  auto r = run_cli({"inspect", "--json", dir.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

}  // namespace
}  // namespace paramdelta::testing
