#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "delta/delta_test_support.h"

namespace paramdelta {
namespace {

using namespace testing;

TEST(Inspect, DescribesAModel) {
  ScratchDir dir;
  TensorMap m = base_tensors(DType::kBF16);
  m["model.ids"] = {DType::kI64, {3}, {1, 2, 3}, {}};
  write_model(dir / "m", m, config_for(kVocab, false), 3000);
  write_file(dir / "m" / "tokenizer.json", "{}");
  const InspectReport r = inspect((dir / "m").string());
  EXPECT_EQ(r.kind, "model");
  EXPECT_EQ(r.tensors.size(), m.size());
  EXPECT_GT(r.shards, 1u);
  std::uint64_t bytes = 0, params = 0;
  for (const auto& [name, t] : m) {
    std::uint64_t n = 1;
    for (auto d : t.shape) n *= d;
    bytes += n * dtype_size(t.dtype);
    if (is_floating(t.dtype)) params += n;
  }
  EXPECT_EQ(r.total_bytes, bytes);
  EXPECT_EQ(r.parameters, params);
  EXPECT_EQ(r.files, (std::vector<std::string>{"config.json", "tokenizer.json"}));
  for (const auto& t : r.tensors) {
    EXPECT_EQ(t.shape, m.at(t.name).shape) << t.name;
    EXPECT_EQ(t.dtype, std::string(dtype_name(m.at(t.name).dtype)));
    EXPECT_NE(t.file.find("model-0000"), std::string::npos);
  }
  const auto j = nlohmann::json::parse(to_json(r));
  EXPECT_EQ(j["tensor_count"], m.size());
  EXPECT_EQ(j["parameters"], params);
}

TEST(Inspect, DescribesADeltaWithKindsAndExceptionsButNotTheExceptionLists) {
  ScratchDir dir;
  TensorMap base = base_tensors(DType::kBF16), post = post_tensors(DType::kBF16);
  inject_adversarial(base, post, "model.layers.0.mlp.up_proj.weight");
  write_model(dir / "base", base, config_for(kVocab, false));
  write_model(dir / "post", post, config_for(kVocab, false));
  compute_delta(compute_options(dir / "base", dir / "post", dir / "delta.safetensors"));
  const InspectReport r = inspect((dir / "delta.safetensors").string());
  EXPECT_EQ(r.kind, "delta");
  EXPECT_EQ(r.tensors.size(), post.size());
  bool exceptions_seen = false;
  for (const auto& t : r.tensors) {
    EXPECT_EQ(t.name.find("::exceptions."), std::string::npos);
    EXPECT_EQ(t.delta_kind, "delta");
    if (t.name == "model.layers.0.mlp.up_proj.weight") exceptions_seen = t.exceptions > 0;
  }
  EXPECT_TRUE(exceptions_seen);
  for (const auto& [k, v] : r.metadata) EXPECT_NE(k, "paramdelta.manifest");
  const auto j = nlohmann::json::parse(to_json(r));
  EXPECT_EQ(j["manifest"]["format"], "paramdelta.delta");
}

TEST(Inspect, NamesABrokenFile) {
  ScratchDir dir;
  write_file(dir / "bad.safetensors", "garbage!");
  const Error e =
      expect_error([&] { inspect((dir / "bad.safetensors").string()); }, ErrorKind::kInvalidInput, {});
  EXPECT_EQ(e.context().file, (dir / "bad.safetensors").string());
}

}  // namespace
}  // namespace paramdelta
