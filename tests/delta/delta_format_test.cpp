// The delta on disk: directory and single-file layouts, the exception lists,
// and the checks that refuse a damaged delta.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "delta/delta_source.h"
#include "delta/delta_test_support.h"
#include "io/file_ops.h"

namespace paramdelta {
namespace {

namespace fs = std::filesystem;
using namespace testing;

const char* kAdv = "model.layers.0.self_attn.o_proj.weight";

class DeltaFormat : public ::testing::Test {
 protected:
  void SetUp() override {
    TensorMap base = base_tensors(DType::kBF16), post = post_tensors(DType::kBF16);
    inject_adversarial(base, post, kAdv);
    write_model(dir / "base", base, config_for(kVocab, false));
    write_model(dir / "post", post, config_for(kVocab, false));
    write_file(dir / "post" / "tokenizer.json", "{}");
    write_file(dir / "post" / "chat_template.jinja", "{{ x }}");
  }
  ScratchDir dir;
};

TEST_F(DeltaFormat, ADirectoryDeltaHasWeightsManifestExceptionsAndCompanionFiles) {
  compute_delta(compute_options(dir / "base", dir / "post", dir / "delta"));
  for (const char* f : {"delta.safetensors", "paramdelta.json", "exceptions.safetensors", "tokenizer.json",
                        "chat_template.jinja", "post_config.json"}) {
    EXPECT_TRUE(fs::exists(dir / "delta" / f)) << f;
  }
  const auto m = nlohmann::json::parse(read_file(dir / "delta" / "paramdelta.json"));
  EXPECT_EQ(m["format"], "paramdelta.delta");
  EXPECT_EQ(m["format_version"], 1);
  EXPECT_EQ(m["operation"], "compute");
  EXPECT_EQ(m["encoding"]["exceptions"], "exceptions.safetensors");
  EXPECT_EQ(m["base"]["source"], (dir / "base").string());
  EXPECT_EQ(m["post"]["source"], (dir / "post").string());
  EXPECT_EQ(m["files"], nlohmann::json::array({"tokenizer.json", "chat_template.jinja", "post_config.json"}));
  const auto& entry = m["tensors"][kAdv];
  EXPECT_EQ(entry["kind"], "delta");
  EXPECT_EQ(entry["base_dtype"], "BF16");
  EXPECT_EQ(entry["post_dtype"], "BF16");
  EXPECT_EQ(entry["base_checksum"].get<std::string>().size(), 16u);
  EXPECT_NE(entry["base_checksum"], entry["post_checksum"]);
  const std::uint64_t count = entry["exceptions"];
  EXPECT_GT(count, 0u);
  // The exception lists: indices (U32 for tensors under 2^32 elements) and the exact values.
  const ReadTensor idx =
      read_tensor(dir / "delta" / "exceptions.safetensors", std::string(kAdv) + "::exceptions.index");
  const ReadTensor b =
      read_tensor(dir / "delta" / "exceptions.safetensors", std::string(kAdv) + "::exceptions.base");
  const ReadTensor p =
      read_tensor(dir / "delta" / "exceptions.safetensors", std::string(kAdv) + "::exceptions.post");
  EXPECT_EQ(idx.dtype, DType::kU32);
  EXPECT_EQ(b.dtype, DType::kBF16);
  EXPECT_EQ(p.dtype, DType::kBF16);
  EXPECT_EQ(idx.shape, std::vector<std::uint64_t>{count});
  const ReadTensor base = read_tensor(dir / "base", kAdv), post = read_tensor(dir / "post", kAdv);
  for (std::size_t k = 0; k < count; ++k) {
    const auto i = static_cast<std::size_t>(idx.values[k]);
    EXPECT_EQ(std::memcmp(b.raw.data() + 2 * k, base.raw.data() + 2 * i, 2), 0);
    EXPECT_EQ(std::memcmp(p.raw.data() + 2 * k, post.raw.data() + 2 * i, 2), 0);
  }
  // Delta tensors keep the model's names, dtypes and shapes.
  const auto delta = read_all_bytes(dir / "delta", "delta");
  const auto post_all = read_all_bytes(dir / "post");
  ASSERT_EQ(delta.size(), post_all.size());
  for (const auto& [name, bytes] : post_all) EXPECT_EQ(delta.at(name).size(), bytes.size()) << name;
}

TEST_F(DeltaFormat, ASingleFileDeltaCarriesItsManifestAndExceptionsInline) {
  const OperationSummary s =
      compute_delta(compute_options(dir / "base", dir / "post", dir / "delta.safetensors"));
  auto ckpt = Checkpoint::open(dir / "delta.safetensors");
  ASSERT_TRUE(ckpt.metadata().count("paramdelta.manifest"));
  EXPECT_EQ(ckpt.metadata().at("paramdelta.content"), "delta");
  const auto m = nlohmann::json::parse(ckpt.metadata().at("paramdelta.manifest"));
  EXPECT_EQ(m["encoding"]["exceptions"], "inline");
  EXPECT_NE(ckpt.find(std::string(kAdv) + "::exceptions.index"), nullptr);
  EXPECT_NE(ckpt.find(std::string(kAdv) + "::exceptions.post"), nullptr);
  bool noted = false;
  for (const auto& n : s.notes) noted |= n.find("tokenizer") != std::string::npos;
  EXPECT_TRUE(noted) << "the user is told that a single file cannot carry the tokenizer";
  EXPECT_EQ(entries_in(dir.path()), 3u) << "nothing but the delta file is written beside the models";
}

TEST_F(DeltaFormat, ExceptionsFileIsOmittedWhenNoElementNeedsIt) {
  ScratchDir other;
  write_model(other / "base", base_tensors(DType::kF32), config_for(kVocab, false));
  write_model(other / "post", base_tensors(DType::kF32), config_for(kVocab, false));  // identical
  const OperationSummary s = compute_delta(compute_options(other / "base", other / "post", other / "delta"));
  EXPECT_EQ(s.exception_elements, 0u);
  EXPECT_FALSE(fs::exists(other / "delta" / "exceptions.safetensors"));
  EXPECT_EQ(nlohmann::json::parse(read_file(other / "delta" / "paramdelta.json"))["encoding"]["exceptions"],
            "");
  apply_delta(apply_options(other / "base", other / "delta", other / "out"));
  expect_identical_models(other / "out", other / "post");
}

// Damaged deltas are refused with the file and tensor named.
TEST_F(DeltaFormat, AManifestNamingATensorTheFilesLackIsRefused) {
  compute_delta(compute_options(dir / "base", dir / "post", dir / "delta"));
  auto m = nlohmann::ordered_json::parse(read_file(dir / "delta" / "paramdelta.json"));
  m["tensors"]["ghost.weight"] = m["tensors"]["model.norm.weight"];
  write_file(dir / "delta" / "paramdelta.json", m.dump());
  const Error e =
      expect_error([&] { DeltaSource::open(dir / "delta"); }, ErrorKind::kInvalidInput, {"missing"});
  EXPECT_EQ(e.context().tensor, "ghost.weight");
}

TEST_F(DeltaFormat, ATensorTheManifestDoesNotListIsRefused) {
  compute_delta(compute_options(dir / "base", dir / "post", dir / "delta"));
  auto m = nlohmann::ordered_json::parse(read_file(dir / "delta" / "paramdelta.json"));
  m["tensors"].erase("model.norm.weight");
  write_file(dir / "delta" / "paramdelta.json", m.dump());
  const Error e =
      expect_error([&] { DeltaSource::open(dir / "delta"); }, ErrorKind::kInvalidInput, {"manifest"});
  EXPECT_EQ(e.context().tensor, "model.norm.weight");
}

TEST_F(DeltaFormat, AManifestDisagreeingWithTheTensorDtypeIsRefused) {
  compute_delta(compute_options(dir / "base", dir / "post", dir / "delta"));
  auto m = nlohmann::ordered_json::parse(read_file(dir / "delta" / "paramdelta.json"));
  m["tensors"]["model.norm.weight"]["dtype"] = "F16";
  write_file(dir / "delta" / "paramdelta.json", m.dump());
  expect_error([&] { DeltaSource::open(dir / "delta"); }, ErrorKind::kInvalidInput, {"model.norm.weight"});
}

TEST_F(DeltaFormat, AMissingExceptionsFileIsRefused) {
  compute_delta(compute_options(dir / "base", dir / "post", dir / "delta"));
  fs::remove(dir / "delta" / "exceptions.safetensors");
  EXPECT_THROW(DeltaSource::open(dir / "delta"), Error);
  EXPECT_THROW(apply_delta(apply_options(dir / "base", dir / "delta", dir / "out")), Error);
  EXPECT_FALSE(fs::exists(dir / "out"));
}

TEST_F(DeltaFormat, AnExceptionsLocationOutsideTheDeltaIsRefused) {
  compute_delta(compute_options(dir / "base", dir / "post", dir / "delta"));
  auto m = nlohmann::ordered_json::parse(read_file(dir / "delta" / "paramdelta.json"));
  m["encoding"]["exceptions"] = "../post/model.safetensors";
  write_file(dir / "delta" / "paramdelta.json", m.dump());
  expect_error([&] { DeltaSource::open(dir / "delta"); }, ErrorKind::kInvalidInput, {"encoding.exceptions"});
}

TEST_F(DeltaFormat, ExceptionIndicesOutOfOrderOrRangeAreRefused) {
  const fs::path ex = dir / "delta" / "exceptions.safetensors";
  const std::string name = std::string(kAdv) + "::exceptions.index";
  // Rewrite the index list (same size, so the file stays valid safetensors):
  // backwards, or with its last index past the end of the tensor.
  for (const char* damage : {"reverse", "out_of_range"}) {
    compute_delta([&] {
      auto co = compute_options(dir / "base", dir / "post", dir / "delta");
      co.run.force = true;
      return co;
    }());
    auto ckpt = Checkpoint::open(ex);
    std::vector<TensorSpec> specs;
    std::vector<std::vector<std::byte>> data;
    for (const auto& ref : ckpt.tensors()) {
      specs.push_back({ref.name(), ref.info->dtype, ref.info->shape});
      auto span = ckpt.data(ref);
      data.emplace_back(span.begin(), span.end());
      if (ref.name() == name) {
        auto& d = data.back();
        if (std::string(damage) == "reverse") {
          std::vector<std::uint32_t> v(d.size() / 4);
          std::memcpy(v.data(), d.data(), d.size());
          std::reverse(v.begin(), v.end());
          std::memcpy(d.data(), v.data(), d.size());
        } else {
          const std::uint32_t huge = 1u << 30;
          std::memcpy(d.data() + d.size() - 4, &huge, 4);
        }
      }
    }
    {
      SafetensorsWriter w(ex, specs, ckpt.metadata());
      for (std::size_t i = 0; i < specs.size(); ++i) w.write_at(i, 0, data[i]);
      w.finish();
    }
    const Error e =
        expect_error([&] { apply_delta(apply_options(dir / "base", dir / "delta", dir / "out")); },
                     ErrorKind::kInvalidInput, {"increasing"});
    EXPECT_EQ(e.context().tensor, kAdv) << damage;
    EXPECT_FALSE(fs::exists(dir / "out"));
  }
}

TEST_F(DeltaFormat, AModelGivenAsTheDeltaIsAUsageErrorWithAHint) {
  const Error e = expect_error([&] { apply_delta(apply_options(dir / "base", dir / "post", dir / "out")); },
                               ErrorKind::kUsage, {"not a paramdelta delta"});
  EXPECT_EQ(e.options(), std::vector<std::string>{"base"}) << format_error_line(e);
  write_file(dir / "plain.safetensors", safetensors_image("{}", ""));
  expect_error([&] { apply_delta(apply_options(dir / "base", dir / "plain.safetensors", dir / "out")); },
               ErrorKind::kUsage, {"paramdelta.manifest"});
}

}  // namespace
}  // namespace paramdelta
