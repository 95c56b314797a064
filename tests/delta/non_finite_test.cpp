// NaN and infinity: an error naming tensor and index unless explicitly
// allowed, in which case they are carried exactly.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "delta/delta_test_support.h"

namespace paramdelta {
namespace {

namespace fs = std::filesystem;
using namespace testing;

TEST(NonFinite, NanInThePostIsAnErrorNamingTensorAndIndex) {
  ScratchDir dir;
  TensorMap post = post_tensors(DType::kBF16);
  post["model.layers.0.mlp.gate_proj.weight"].values[37] = std::nan("");
  write_model(dir / "base", base_tensors(DType::kBF16), config_for(kVocab, false));
  write_model(dir / "post", post, config_for(kVocab, false));
  const Error e =
      expect_error([&] { compute_delta(compute_options(dir / "base", dir / "post", dir / "delta")); },
                   ErrorKind::kNonFinite, {"element 37", "post", "allow_non_finite=true"});
  EXPECT_EQ(e.context().tensor, "model.layers.0.mlp.gate_proj.weight");
}

TEST(NonFinite, InfinityInTheBaseIsAnErrorNamingTheBase) {
  ScratchDir dir;
  TensorMap base = base_tensors(DType::kF16);
  base["model.norm.weight"].values[2] = -std::numeric_limits<double>::infinity();
  write_model(dir / "base", base, config_for(kVocab, false));
  write_model(dir / "post", post_tensors(DType::kF16), config_for(kVocab, false));
  const Error e =
      expect_error([&] { compute_delta(compute_options(dir / "base", dir / "post", dir / "delta")); },
                   ErrorKind::kNonFinite, {"element 2", "base"});
  EXPECT_EQ(e.context().tensor, "model.norm.weight");
}

TEST(NonFinite, NanInAPostOnlyTensorIsAnError) {
  ScratchDir dir;
  TensorMap post = post_tensors(DType::kBF16);
  post["extra.weight"] = {DType::kBF16, {3}, {1.0, std::nan(""), 2.0}, {}};
  write_model(dir / "base", base_tensors(DType::kBF16), config_for(kVocab, false));
  write_model(dir / "post", post, config_for(kVocab, false));
  const Error e =
      expect_error([&] { compute_delta(compute_options(dir / "base", dir / "post", dir / "delta")); },
                   ErrorKind::kNonFinite, {"element 1"});
  EXPECT_EQ(e.context().tensor, "extra.weight");
}

TEST(NonFinite, WhenAllowedNanPayloadsAndInfinitiesAreCarriedExactly) {
  for (DType dtype : {DType::kBF16, DType::kF16, DType::kF32}) {
    ScratchDir dir;
    TensorMap base = base_tensors(dtype), post = post_tensors(dtype);
    auto& t = post["model.layers.0.self_attn.v_proj.weight"];
    t.raw = encode_values(dtype, t.values);
    // A NaN with an unusual payload and a negative sign, and an infinity.
    const std::size_t es = dtype_size(dtype);
    const std::uint32_t nan32 = 0xffa00001u;
    const std::uint16_t nan16 = dtype == DType::kF16 ? 0xfe01 : 0xffa1;
    if (dtype == DType::kF32)
      std::memcpy(t.raw.data() + 5 * es, &nan32, 4);
    else
      std::memcpy(t.raw.data() + 5 * es, &nan16, 2);
    auto inf = encode_values(dtype, {std::numeric_limits<double>::infinity()});
    std::memcpy(t.raw.data() + 9 * es, inf.data(), es);
    base["model.norm.weight"].values[0] = std::numeric_limits<double>::infinity();
    write_model(dir / "base", base, config_for(kVocab, false));
    write_model(dir / "post", post, config_for(kVocab, false));
    auto co = compute_options(dir / "base", dir / "post", dir / "delta");
    co.allow_non_finite = true;
    compute_delta(co);
    EXPECT_EQ(
        nlohmann::json::parse(read_file(dir / "delta" / "paramdelta.json"))["policies"]["allow_non_finite"],
        true);
    // The delta records the choice: apply needs no flag.
    apply_delta(apply_options(dir / "base", dir / "delta", dir / "out"));
    expect_identical_models(dir / "out", dir / "post");
    EXPECT_TRUE(verify_delta(verify_options(dir / "base", dir / "delta", dir / "post")).exact())
        << dtype_name(dtype);
  }
}

TEST(NonFinite, AnOverflowingResultIsAnErrorUnlessAllowed) {
  ScratchDir dir;
  TensorMap base = base_tensors(DType::kF16), post = post_tensors(DType::kF16);
  base["model.norm.weight"].values[4] = 30000.0;
  post["model.norm.weight"].values[4] = 60000.0;
  write_model(dir / "base", base, config_for(kVocab, false));
  write_model(dir / "post", post, config_for(kVocab, false));
  compute_delta(compute_options(dir / "base", dir / "post", dir / "delta"));
  auto ao = apply_options(dir / "base", dir / "delta", dir / "out");
  ao.scale = 2.0;  // 30000 + 2·30000 overflows f16
  const Error e = expect_error([&] { apply_delta(ao); }, ErrorKind::kNonFinite, {"element 4", "scale"});
  EXPECT_EQ(e.context().tensor, "model.norm.weight");
  EXPECT_FALSE(fs::exists(dir / "out"));
  ao.allow_non_finite = true;
  apply_delta(ao);
  EXPECT_TRUE(std::isinf(read_tensor(dir / "out", "model.norm.weight").values[4]));
}

}  // namespace
}  // namespace paramdelta
