// Hugging Face model directories: single file, shards with an index, and every
// way an index can disagree with its shards.
#include "paramdelta/checkpoint.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "paramdelta/error.h"
#include "support/model_builder.h"
#include "support/test_support.h"

namespace paramdelta {
namespace {

namespace fs = std::filesystem;
using testing::safetensors_image;
using testing::ScratchDir;
using testing::write_file;

// One shard file holding F32 tensors of one element each, named as given.
std::string shard_image(const std::vector<std::string>& names) {
  std::string header = "{";
  std::string data;
  for (std::size_t i = 0; i < names.size(); ++i) {
    header += (i ? "," : "") + std::string("\"") + names[i] +
              R"(":{"dtype":"F32","shape":[1],"data_offsets":[)" + std::to_string(4 * i) + "," +
              std::to_string(4 * i + 4) + "]}";
    float v = static_cast<float>(i + 1);
    data.append(reinterpret_cast<const char*>(&v), 4);
  }
  return safetensors_image(header + "}", data);
}

std::string index_json(const std::string& weight_map, const std::string& metadata = R"({"total_size":12})") {
  return R"({"metadata":)" + metadata + R"(,"weight_map":)" + weight_map + "}";
}

// A valid sharded directory: a, b in shard 1; c in shard 2 (12 bytes in all).
void write_sharded(const fs::path& dir) {
  write_file(dir / "model-00001-of-00002.safetensors", shard_image({"a", "b"}));
  write_file(dir / "model-00002-of-00002.safetensors", shard_image({"c"}));
}
const std::string kGoodMap =
    R"({"a":"model-00001-of-00002.safetensors","b":"model-00001-of-00002.safetensors","c":"model-00002-of-00002.safetensors"})";

void expect_invalid_index(const fs::path& dir, const std::string& tensor, const std::string& message_part) {
  try {
    Checkpoint::open(dir);
    FAIL() << "accepted an inconsistent index";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput) << format_error_line(e);
    EXPECT_EQ(e.context().file, (dir / "model.safetensors.index.json").string()) << format_error_line(e);
    if (!tensor.empty()) {
      EXPECT_EQ(e.context().tensor, tensor) << format_error_line(e);
    }
    EXPECT_NE(format_error_line(e).find(message_part), std::string::npos) << format_error_line(e);
  }
}

TEST(Checkpoint, OpensASingleFileModelDirectory) {
  ScratchDir dir;
  write_file(dir / "model.safetensors", shard_image({"x", "y"}));
  write_file(dir / "config.json", "{}");
  auto ckpt = Checkpoint::open(dir.path());
  EXPECT_FALSE(ckpt.is_single_file());
  EXPECT_EQ(ckpt.shard_count(), 1u);
  EXPECT_EQ(ckpt.tensors().size(), 2u);
  EXPECT_EQ(ckpt.total_tensor_bytes(), 8u);
  EXPECT_TRUE(ckpt.has_file("config.json"));
  EXPECT_EQ(ckpt.read_text_file("config.json").value_or(""), "{}");
  EXPECT_FALSE(ckpt.read_text_file("tokenizer.json").has_value());
  EXPECT_TRUE(ckpt.warnings().empty());
}

TEST(Checkpoint, OpensABareSafetensorsFile) {
  ScratchDir dir;
  write_file(dir / "weights.safetensors", shard_image({"x"}));
  auto ckpt = Checkpoint::open(dir / "weights.safetensors");
  EXPECT_TRUE(ckpt.is_single_file());
  EXPECT_EQ(ckpt.root(), dir.path());
  ASSERT_NE(ckpt.find("x"), nullptr);
  EXPECT_FALSE(ckpt.has_file("weights.safetensors")) << "a bare file has no companion files";
}

TEST(Checkpoint, OpensAShardedDirectoryThroughItsIndex) {
  ScratchDir dir;
  write_sharded(dir.path());
  write_file(dir / "model.safetensors.index.json", index_json(kGoodMap));
  auto ckpt = Checkpoint::open(dir.path());
  EXPECT_EQ(ckpt.shard_count(), 2u);
  ASSERT_EQ(ckpt.tensors().size(), 3u);
  const TensorRef* c = ckpt.find("c");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(ckpt.shard(c->shard).path().filename(), "model-00002-of-00002.safetensors");
  float v;
  std::memcpy(&v, ckpt.data(*c).data(), 4);
  EXPECT_EQ(v, 1.0f);
  EXPECT_TRUE(ckpt.warnings().empty());
}

TEST(Checkpoint, PrefersTheIndexAndUsesThePrefixGiven) {
  ScratchDir dir;
  write_file(dir / "delta.safetensors", shard_image({"d"}));
  EXPECT_EQ(Checkpoint::open(dir.path(), "delta").tensors().size(), 1u);
  EXPECT_THROW(Checkpoint::open(dir.path(), "model"), Error);
}

TEST(Checkpoint, IndexNamingAMissingShardIsAnError) {
  ScratchDir dir;
  write_file(dir / "model-00001-of-00002.safetensors", shard_image({"a", "b"}));
  write_file(dir / "model.safetensors.index.json", index_json(kGoodMap));
  expect_invalid_index(dir.path(), "", "model-00002-of-00002.safetensors");
}

TEST(Checkpoint, TensorAbsentFromItsShardIsAnError) {
  ScratchDir dir;
  write_sharded(dir.path());
  write_file(
      dir / "model.safetensors.index.json",
      index_json(
          R"({"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors","c":"model-00002-of-00002.safetensors"})"));
  expect_invalid_index(dir.path(), "b", "does not contain it");
}

TEST(Checkpoint, TwoShardsClaimingOneTensorIsAnError) {
  ScratchDir dir;
  write_file(dir / "model-00001-of-00002.safetensors", shard_image({"a", "b"}));
  write_file(dir / "model-00002-of-00002.safetensors", shard_image({"b", "c"}));
  write_file(dir / "model.safetensors.index.json", index_json(kGoodMap));
  expect_invalid_index(dir.path(), "b", "both shard");
}

TEST(Checkpoint, TensorTheIndexDoesNotListIsAnError) {
  ScratchDir dir;
  write_sharded(dir.path());
  write_file(
      dir / "model.safetensors.index.json",
      index_json(R"({"a":"model-00001-of-00002.safetensors","c":"model-00002-of-00002.safetensors"})"));
  expect_invalid_index(dir.path(), "b", "does not list");
}

TEST(Checkpoint, ShardNamesThatLeaveTheDirectoryAreRejected) {
  ScratchDir dir;
  fs::create_directory(dir / "m");
  fs::create_directory(dir / "m" / "sub");
  write_file(dir / "outside.safetensors", shard_image({"a"}));
  write_file(dir / "m" / "sub" / "inner.safetensors", shard_image({"a"}));
  for (const std::string& name :
       {std::string("../outside.safetensors"), (dir / "outside.safetensors").string(),
        std::string("sub/inner.safetensors"), std::string(".."), std::string(""),
        std::string("sub\\\\inner.safetensors")}) {
    write_file(dir / "m" / "model.safetensors.index.json", index_json(R"({"a":")" + name + R"("})"));
    expect_invalid_index(dir / "m", "a", "not a plain file name");
  }
}

TEST(Checkpoint, MalformedIndexesAreRejected) {
  ScratchDir dir;
  write_sharded(dir.path());
  for (const std::string& text : {std::string("[]"), std::string(R"({"metadata":{}})"),
                                  std::string(R"({"weight_map":[]})"), std::string(R"({"weight_map":{}})"),
                                  std::string(R"({"weight_map":{"a":3}})"), std::string("{oops")}) {
    write_file(dir / "model.safetensors.index.json", text);
    try {
      Checkpoint::open(dir.path());
      FAIL() << text;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput) << text;
      EXPECT_EQ(e.context().file, (dir / "model.safetensors.index.json").string()) << text;
    }
  }
}

TEST(Checkpoint, TotalSizeMismatchIsOnlyAWarning) {
  ScratchDir dir;
  write_sharded(dir.path());
  write_file(dir / "model.safetensors.index.json", index_json(kGoodMap, R"({"total_size":999})"));
  auto ckpt = Checkpoint::open(dir.path());
  ASSERT_EQ(ckpt.warnings().size(), 1u);
  EXPECT_NE(ckpt.warnings()[0].find("999"), std::string::npos);
  EXPECT_NE(ckpt.warnings()[0].find("12"), std::string::npos);
  EXPECT_NE(ckpt.warnings()[0].find("model.safetensors.index.json"), std::string::npos);
  EXPECT_EQ(ckpt.tensors().size(), 3u);
}

TEST(Checkpoint, ADamagedShardIsReportedWithItsOwnName) {
  ScratchDir dir;
  write_sharded(dir.path());
  std::string bad = shard_image({"c"});
  bad.pop_back();
  write_file(dir / "model-00002-of-00002.safetensors", bad);
  write_file(dir / "model.safetensors.index.json", index_json(kGoodMap));
  try {
    Checkpoint::open(dir.path());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    EXPECT_EQ(e.context().file, (dir / "model-00002-of-00002.safetensors").string());
  }
}

TEST(Checkpoint, ADirectoryWithoutSafetensorsWeightsIsAUsageErrorWithAHint) {
  ScratchDir dir;
  try {
    Checkpoint::open(dir.path());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUsage);
    EXPECT_EQ(e.context().file, dir.path().string());
  }
  write_file(dir / "pytorch_model.bin", "pickle");
  try {
    Checkpoint::open(dir.path());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(e.hint().find("safetensors"), std::string::npos) << e.hint();
    EXPECT_NE(e.hint().find("PyTorch"), std::string::npos) << e.hint();
  }
}

TEST(Checkpoint, AMissingPathIsNotFound) {
  ScratchDir dir;
  try {
    Checkpoint::open(dir / "nothing");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
    EXPECT_EQ(e.context().file, (dir / "nothing").string());
  }
}

TEST(ReadTensorAsF32, WidensEveryStoredType) {
  ScratchDir dir;
  testing::TensorMap m;
  for (DType d : {DType::kBF16, DType::kF16, DType::kF32, DType::kF64, DType::kF8E4M3, DType::kF8E5M2}) {
    m[std::string(dtype_name(d))] = {d, {4}, {-2.5, 0.0, 1.0, 3.0}, {}};
  }
  for (DType d : {DType::kI8, DType::kI16, DType::kI32, DType::kI64}) {
    m[std::string(dtype_name(d))] = {d, {4}, {-2.0, 0.0, 1.0, 3.0}, {}};
  }
  m["U8"] = {DType::kU8, {2}, {0, 255}, {}};
  m["BOOL"] = {DType::kBool, {2}, {}, {std::byte{0}, std::byte{1}}};
  testing::write_model(dir.path(), m);
  auto ckpt = Checkpoint::open(dir.path());
  for (const auto& ref : ckpt.tensors()) {
    const auto got = read_tensor_as_f32(ckpt, ref);
    if (ref.name() == "U8") {
      EXPECT_EQ(got, (std::vector<float>{0, 255}));
    } else if (ref.name() == "BOOL") {
      EXPECT_EQ(got, (std::vector<float>{0, 1}));
    } else if (ref.name()[0] == 'I') {
      EXPECT_EQ(got, (std::vector<float>{-2.0f, 0.0f, 1.0f, 3.0f})) << ref.name();
    } else {
      EXPECT_EQ(got, (std::vector<float>{-2.5f, 0.0f, 1.0f, 3.0f})) << ref.name();
    }
  }
}

}  // namespace
}  // namespace paramdelta
