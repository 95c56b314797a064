// Deltas without a paramdelta manifest, as the Python implementation writes
// them: post − base under the model's own names, in one safetensors file or a
// directory of them (delta.safetensors, or shards with an index) and nothing
// else. apply, combine, verify, analyze and inspect take them, and say what
// cannot be known about them; a model given as the delta is still refused.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli/cli_test_support.h"
#include "io/sharded_writer.h"

namespace paramdelta {
namespace {

namespace fs = std::filesystem;
using namespace testing;

// The values a tensor holds once stored in its dtype.
std::vector<double> stored_values(const TestTensor& t) {
  return decode_values(t.dtype, encode_values(t.dtype, t.values));
}

// post − base of every tensor in `dtype`, under the model's names, with the
// metadata the Python implementation writes and no manifest.
void write_manifestless_delta(const fs::path& dir, const TensorMap& base, const TensorMap& post, DType dtype,
                              std::uint64_t max_shard = ~0ull) {
  fs::create_directories(dir);
  std::vector<TensorSpec> specs;
  std::vector<std::vector<std::byte>> data;
  for (const auto& [name, p] : post) {
    const std::vector<double> b = stored_values(base.at(name)), v = stored_values(p);
    std::vector<double> d(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) d[i] = v[i] - b[i];
    specs.push_back({name, dtype, p.shape});
    data.push_back(encode_values(dtype, d));
  }
  ShardedWriter writer(dir, "delta", specs, max_shard, Metadata{{"format", "pt"}});
  for (std::size_t i = 0; i < data.size(); ++i) writer.write_at(i, 0, data[i]);
  writer.finish();
}

class ManifestlessDelta : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = llama_tensors(DType::kBF16, 2, 32, 64, 1);
    post_ = llama_tensors(DType::kBF16, 2, 32, 64, 1, false, 0.003, 2);
    write_model(dir / "base", base_, llama_config(2, 32, 64, false));
    write_model(dir / "post", post_, llama_config(2, 32, 64, false));
    // F32 holds the difference of two bf16 values exactly: base + delta gives the post model back.
    write_manifestless_delta(dir / "pydelta", base_, post_, DType::kF32);
  }
  std::string p(const std::string& name) const { return (dir / name).string(); }
  void expect_same_weights(const std::string& a, const std::string& b) {
    EXPECT_TRUE(read_all_bytes(dir / a) == read_all_bytes(dir / b)) << a << " and " << b << " differ";
  }
  TensorMap base_, post_;
  ScratchDir dir;
};

void expect_unknowns_said(const std::string& err) {
  EXPECT_NE(err.find("no paramdelta manifest"), std::string::npos) << err;
  EXPECT_NE(err.find("provenance and exactness unknown"), std::string::npos) << err;
  EXPECT_NE(err.find("no checksum"), std::string::npos) << err;
}

TEST_F(ManifestlessDelta, ApplyTakesADirectoryWithoutAManifestAndSaysWhatIsUnknown) {
  const CommandResult r = run_cli({"apply", "--base", p("base"), "--delta", p("pydelta"), "-o", p("out")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_unknowns_said(r.err);
  EXPECT_NE(r.err.find("F32"), std::string::npos) << "the dtype as stored: " << r.err;
  expect_same_weights("out", "post");
}

TEST_F(ManifestlessDelta, ApplyTakesASingleFileWithoutAManifest) {
  fs::rename(dir / "pydelta" / "delta.safetensors", dir / "chat.safetensors");
  const CommandResult r = run_cli(
      {"apply", "--base", p("base"), "--delta", p("chat.safetensors"), "-o", p("out"), "--scale", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_unknowns_said(r.err);
  expect_same_weights("out", "post");
}

TEST_F(ManifestlessDelta, ApplyTakesAShardedDirectoryWithoutAManifest) {
  write_manifestless_delta(dir / "sharded", base_, post_, DType::kF32, 20000);
  ASSERT_TRUE(fs::exists(dir / "sharded" / "delta.safetensors.index.json"));
  const CommandResult r =
      run_cli({"apply", "--base", p("base"), "--delta", p("sharded"), "-o", p("out"), "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_same_weights("out", "post");
}

TEST_F(ManifestlessDelta, VerifyTakesItAndReportsNoChecksumToCompare) {
  const CommandResult r =
      run_cli({"verify", "--base", p("base"), "--delta", p("pydelta"), "--expect", p("post"), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["differing_elements"], 0);
  EXPECT_TRUE(j["base_matches_manifest"].is_null()) << j["base_matches_manifest"];
  expect_unknowns_said(j["notes"].dump());
}

TEST_F(ManifestlessDelta, CombineTakesItBesideAParamdeltaDelta) {
  ASSERT_EQ(run_cli({"compute", "--base", p("base"), "--post", p("post"), "-o", p("ours"), "-q"}).exit_code,
            0);
  const CommandResult r = run_cli({"combine", "--delta", p("pydelta"), "--delta", p("ours"), "--weight",
                                   "0.5", "--weight", "0.5", "--delta-dtype", "f32", "-o", p("combined")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_unknowns_said(r.err);
  const CommandResult applied =
      run_cli({"apply", "--base", p("base"), "--delta", p("combined"), "-o", p("out")});
  ASSERT_EQ(applied.exit_code, 0) << applied.err;
  expect_same_weights("out", "post");
}

TEST_F(ManifestlessDelta, AnalyzeTakesItWithoutClaimingTheBaseDiffers) {
  const CommandResult r = run_cli({"analyze", "--delta", p("pydelta"), "--base", p("base"), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_FALSE(j.contains("base_matches_manifest")) << j["base_matches_manifest"];
  EXPECT_GT(j["total"]["delta_norm"].get<double>(), 0.0);
  EXPECT_TRUE(j["total"].contains("base")) << "compared with the base";
  expect_unknowns_said(j["notes"].dump());
}

TEST_F(ManifestlessDelta, InspectDescribesADirectoryWithoutAManifestAsADelta) {
  CommandResult r = run_cli({"inspect", p("pydelta"), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["kind"], "delta");
  EXPECT_TRUE(j["manifest"].is_null());
  expect_unknowns_said(j["notes"].dump());
  EXPECT_EQ(j["tensors"][0]["kind"], "delta");
  r = run_cli({"inspect", p("pydelta")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_unknowns_said(r.out);
}

TEST_F(ManifestlessDelta, InspectDescribesAFileNamedAsADeltaWithoutAManifest) {
  fs::rename(dir / "pydelta" / "delta.safetensors", dir / "chat_delta.safetensors");
  const CommandResult r = run_cli({"inspect", p("chat_delta.safetensors"), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["kind"], "delta");
}

TEST_F(ManifestlessDelta, AModelsWeightFileIsStillRefusedAsTheDelta) {
  const CommandResult r =
      run_cli({"apply", "--base", p("base"), "--delta", p("post") + "/model.safetensors", "-o", p("out")});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(lines_of(r.err).size(), 1u) << r.err;
  EXPECT_NE(r.err.find("not a paramdelta delta"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("config.json"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "out"));
}

TEST_F(ManifestlessDelta, AFileOfAParamdeltaDeltaDirectoryIsRefusedNamingTheDirectory) {
  ASSERT_EQ(run_cli({"compute", "--base", p("base"), "--post", p("post"), "-o", p("ours"), "-q"}).exit_code,
            0);
  const CommandResult r =
      run_cli({"apply", "--base", p("base"), "--delta", p("ours") + "/delta.safetensors", "-o", p("out")});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(lines_of(r.err).size(), 1u) << r.err;
  EXPECT_NE(r.err.find("paramdelta.json"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("pass the directory"), std::string::npos) << r.err;
}

TEST_F(ManifestlessDelta, ADirectoryWithNeitherManifestNorDeltaWeightsIsRefused) {
  fs::create_directories(dir / "empty");
  write_file(dir / "empty" / "notes.txt", "nothing here");
  const CommandResult r = run_cli({"apply", "--base", p("base"), "--delta", p("empty"), "-o", p("out")});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(lines_of(r.err).size(), 1u) << r.err;
  EXPECT_NE(r.err.find("not a paramdelta delta"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("delta.safetensors"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace paramdelta
