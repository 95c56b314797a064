// The delta manifest: round trip, and every malformed manifest rejected with
// the file and field named.
#include "delta/manifest.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "paramdelta/error.h"

namespace paramdelta {
namespace {

Manifest sample() {
  Manifest m;
  m.tool = "paramdelta 0.1.0";
  m.created = "2025-01-01T00:00:00Z";
  m.operation = "compute";
  m.checksum = "xxh3-64-blocks-262144";
  m.base_source = "base-dir";
  m.post_source = "post-dir";
  m.base_tensor_bytes = 100;
  m.post_tensor_bytes = 120;
  m.vocab_mismatch = "overlap";
  m.allow_non_finite = true;
  m.exceptions_location = "exceptions.safetensors";
  ManifestTensor a;
  a.name = "model.embed_tokens.weight";
  a.kind = TensorKind::kDelta;
  a.dtype = DType::kBF16;
  a.shape = {10, 4};
  a.base_dtype = DType::kBF16;
  a.post_dtype = DType::kBF16;
  a.base_shape = {8, 4};
  a.base_checksum = "00000000000000aa";
  a.post_checksum = "00000000000000bb";
  a.exceptions = 3;
  a.delta_rows = 8;
  ManifestTensor b;
  b.name = "extra";
  b.kind = TensorKind::kFull;
  b.dtype = DType::kF16;
  b.shape = {2};
  ManifestTensor c;
  c.name = "ids";
  c.kind = TensorKind::kCarry;
  c.dtype = DType::kI64;
  c.shape = {3};
  ManifestTensor d;
  d.name = "lm_head.weight";
  d.dtype = DType::kF32;
  d.shape = {10, 4};
  d.base_dtype = DType::kF32;
  d.base_tensor = "model.embed_tokens.weight";
  m.tensors = {a, b, c, d};
  m.removed_tensors = {"old.weight"};
  m.files = {"tokenizer.json"};
  m.combined_from = {"d1", "d2"};
  m.combine_weights = {0.5, 2.0};
  m.combine_method = "dare-ties";
  m.combine_density = 0.25;
  m.combine_seed = 42;
  return m;
}

TEST(Manifest, RoundTripsThroughJson) {
  const Manifest m = sample();
  const Manifest r = manifest_from_json(manifest_to_json(m), "paramdelta.json");
  EXPECT_EQ(r.format_version, kDeltaFormatVersion);
  EXPECT_EQ(r.tool, m.tool);
  EXPECT_EQ(r.created, m.created);
  EXPECT_EQ(r.encoding, m.encoding);
  EXPECT_EQ(r.lossless, m.lossless);
  EXPECT_EQ(r.base_source, m.base_source);
  EXPECT_EQ(r.post_source, m.post_source);
  EXPECT_EQ(r.base_tensor_bytes, 100u);
  EXPECT_EQ(r.post_tensor_bytes, 120u);
  EXPECT_EQ(r.vocab_mismatch, "overlap");
  EXPECT_TRUE(r.allow_non_finite);
  EXPECT_EQ(r.exceptions_location, "exceptions.safetensors");
  ASSERT_EQ(r.tensors.size(), 4u);
  const ManifestTensor* a = r.find("model.embed_tokens.weight");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->kind, TensorKind::kDelta);
  EXPECT_EQ(a->dtype, DType::kBF16);
  EXPECT_EQ(a->shape, (std::vector<std::uint64_t>{10, 4}));
  EXPECT_EQ(a->base_shape, (std::vector<std::uint64_t>{8, 4}));
  EXPECT_EQ(a->base_checksum, "00000000000000aa");
  EXPECT_EQ(a->post_checksum, "00000000000000bb");
  EXPECT_EQ(a->exceptions, 3u);
  EXPECT_EQ(a->delta_rows, std::optional<std::uint64_t>(8));
  EXPECT_EQ(r.find("extra")->kind, TensorKind::kFull);
  EXPECT_EQ(r.find("ids")->kind, TensorKind::kCarry);
  EXPECT_EQ(r.find("ids")->dtype, DType::kI64);
  EXPECT_EQ(r.find("lm_head.weight")->base_tensor, "model.embed_tokens.weight");
  EXPECT_EQ(r.removed_tensors, m.removed_tensors);
  EXPECT_EQ(r.files, m.files);
  EXPECT_EQ(r.combined_from, m.combined_from);
  EXPECT_EQ(r.combine_weights, m.combine_weights);
  EXPECT_EQ(r.combine_method, "dare-ties");
  EXPECT_EQ(r.combine_density, std::optional<double>(0.25));
  EXPECT_EQ(r.combine_seed, std::optional<std::uint64_t>(42));
  EXPECT_EQ(r.find("absent"), nullptr);
}

TEST(Manifest, RecordsTheEncodingAndPoliciesForReaders) {
  const auto j = nlohmann::json::parse(manifest_to_json(sample()));
  EXPECT_EQ(j["format"], "paramdelta.delta");
  EXPECT_EQ(j["encoding"]["name"], "same-dtype+exceptions");
  EXPECT_EQ(j["encoding"]["lossless"], true);
  EXPECT_TRUE(j["policies"].contains("missing_in_post"));
  EXPECT_TRUE(j["policies"].contains("missing_in_base"));
  EXPECT_TRUE(j["policies"].contains("integer_tensors"));
}

// Applies `edit` to a valid manifest's JSON and expects the parse to fail
// naming the file, and the field and tensor when given.
void expect_rejected(const std::function<void(nlohmann::ordered_json&)>& edit, const std::string& field,
                     const std::string& tensor = {}) {
  auto j = nlohmann::ordered_json::parse(manifest_to_json(sample()));
  edit(j);
  try {
    manifest_from_json(j.dump(), "the/paramdelta.json");
    FAIL() << "accepted: " << j.dump();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput) << format_error_line(e);
    EXPECT_EQ(e.context().file, "the/paramdelta.json");
    if (!field.empty()) {
      EXPECT_EQ(e.context().field, field) << format_error_line(e);
    }
    if (!tensor.empty()) {
      EXPECT_EQ(e.context().tensor, tensor) << format_error_line(e);
    }
  }
}

TEST(ManifestErrors, NotJsonOrNotAnObject) {
  EXPECT_THROW(manifest_from_json("{", "x"), Error);
  EXPECT_THROW(manifest_from_json("[]", "x"), Error);
  EXPECT_THROW(manifest_from_json("{\"a\":1,\"a\":2}", "x"), Error);
}

TEST(ManifestErrors, WrongFormatOrVersion) {
  expect_rejected([](auto& j) { j["format"] = "something.else"; }, "format");
  expect_rejected([](auto& j) { j.erase("format"); }, "format");
  expect_rejected([](auto& j) { j["format_version"] = 2; }, "format_version");
  expect_rejected([](auto& j) { j["format_version"] = "1"; }, "format_version");
}

TEST(ManifestErrors, UnknownOrMissingEncoding) {
  expect_rejected([](auto& j) { j["encoding"]["name"] = "zstd-xor"; }, "encoding.name");
  expect_rejected([](auto& j) { j.erase("encoding"); }, "encoding");
  expect_rejected([](auto& j) { j["encoding"].erase("name"); }, "encoding.name");
}

TEST(ManifestErrors, MalformedTensorEntries) {
  const std::string t = "model.embed_tokens.weight";
  expect_rejected([](auto& j) { j.erase("tensors"); }, "tensors");
  expect_rejected([](auto& j) { j["tensors"] = nlohmann::ordered_json::array(); }, "tensors");
  expect_rejected([&](auto& j) { j["tensors"][t]["kind"] = "patch"; }, "kind", t);
  expect_rejected([&](auto& j) { j["tensors"][t]["dtype"] = "F128"; }, "dtype", t);
  expect_rejected([&](auto& j) { j["tensors"][t].erase("dtype"); }, "tensors." + t + ".dtype");
  expect_rejected([&](auto& j) { j["tensors"][t]["shape"] = {10, -4}; }, "shape", t);
  expect_rejected([&](auto& j) { j["tensors"][t].erase("base_dtype"); }, "base_dtype", t);
  expect_rejected([&](auto& j) { j["tensors"][t]["exceptions"] = -1; }, "exceptions", t);
  expect_rejected([&](auto& j) { j["tensors"][t]["delta_rows"] = 11; }, "delta_rows", t);
  expect_rejected([&](auto& j) { j["tensors"][t]["delta_rows"] = "8"; }, "delta_rows", t);
  expect_rejected([&](auto& j) { j["tensors"][t] = 5; }, "", t);
}

TEST(ManifestErrors, ListsOfTheWrongType) {
  expect_rejected([](auto& j) { j["removed_tensors"] = "old.weight"; }, "removed_tensors");
  expect_rejected([](auto& j) { j["files"] = nlohmann::ordered_json::array({1}); }, "files");
  expect_rejected([](auto& j) { j["combine_method"] = 3; }, "combine_method");
  expect_rejected([](auto& j) { j["combine_density"] = "0.5"; }, "combine_density");
  expect_rejected([](auto& j) { j["combine_seed"] = -1; }, "combine_seed");
}

TEST(ManifestNames, ExceptionTensorsAndKinds) {
  EXPECT_EQ(exception_tensor_name("w", "index"), "w::exceptions.index");
  EXPECT_EQ(tensor_kind_name(TensorKind::kDelta), "delta");
  EXPECT_EQ(tensor_kind_name(TensorKind::kFull), "full");
  EXPECT_EQ(tensor_kind_name(TensorKind::kCarry), "carry");
}

}  // namespace
}  // namespace paramdelta
