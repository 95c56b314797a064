// analyze: norms, ratios, cosines and sign conflicts of a delta against its
// base, a new base's drift and a second delta, checked against long-double
// sums over the values the test reads back itself.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <random>

#include "delta/delta_test_support.h"

namespace paramdelta {
namespace {

namespace fs = std::filesystem;
using namespace testing;

// Sums over two vectors, as the definition of each statistic states them.
struct Oracle {
  long double dd = 0, vv = 0, dv = 0;
  std::uint64_t both = 0, opposite = 0;
  void add(long double d, long double v) {
    dd += d * d;
    vv += v * v;
    dv += d * v;
    if (d != 0 && v != 0) {
      ++both;
      opposite += (d < 0) != (v < 0);
    }
  }
  // With the documented conventions: cosine 0 when either vector is zero,
  // ratio 0 when both are, opposite-sign share 0 when no element has both non-zero.
  void expect_matches(const VectorComparison& c, const std::string& what) const {
    const double d_norm = std::sqrt(static_cast<double>(dd)), v_norm = std::sqrt(static_cast<double>(vv));
    EXPECT_NEAR(c.delta_norm, d_norm, 1e-12 * d_norm) << what;
    EXPECT_NEAR(c.norm, v_norm, 1e-12 * v_norm) << what;
    const double cosine = dd > 0 && vv > 0 ? static_cast<double>(dv / std::sqrt(dd * vv)) : 0.0;
    EXPECT_NEAR(c.cosine, cosine, 1e-12) << what;
    const double ratio = dd > 0 ? static_cast<double>(std::sqrt(vv / dd)) : 0.0;
    EXPECT_NEAR(c.ratio, ratio, 1e-12 * ratio) << what;
    EXPECT_DOUBLE_EQ(c.opposite_signs,
                     both > 0 ? static_cast<double>(opposite) / static_cast<double>(both) : 0.0)
        << what;
  }
};

std::vector<long double> model_values(const fs::path& model, const std::string& name) {
  const ReadTensor t = read_tensor(model, name);
  return {t.values.begin(), t.values.end()};
}

class AnalyzeFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    write_model(dir / "base", base_tensors(DType::kBF16), config_for(kVocab, false));
    write_model(dir / "post", post_tensors(DType::kBF16), config_for(kVocab, false));
    // A new base: the base moved by noise of its own.
    write_model(dir / "new-base", llama_tensors(DType::kBF16, kLayers, kHidden, kVocab, 1, false, 0.001, 99),
                config_for(kVocab, false));
    write_model(dir / "post2", post_tensors(DType::kBF16, false, kVocab, 11), config_for(kVocab, false));
    compute_delta(compute_options(dir / "base", dir / "post", dir / "delta"));
    compute_delta(compute_options(dir / "base", dir / "post2", dir / "delta2"));
  }
  AnalyzeOptions options(bool with_base = true, bool with_new_base = true, bool with_other = true) const {
    AnalyzeOptions o;
    o.delta = (dir / "delta").string();
    if (with_base) o.base = (dir / "base").string();
    if (with_new_base) o.new_base = (dir / "new-base").string();
    if (with_other) o.other_delta = (dir / "delta2").string();
    o.run.threads = 2;
    return o;
  }
  ScratchDir dir;
};

TEST_F(AnalyzeFixture, EveryStatisticMatchesLongDoubleSumsPerTensorAndInTotal) {
  const AnalyzeReport r = analyze_delta(options());
  ASSERT_EQ(r.tensors.size(), base_tensors(DType::kBF16).size());
  Oracle total_base, total_drift, total_other;
  long double total_dd = 0, total_max = 0;
  std::uint64_t total_elements = 0;
  for (const TensorAnalysis& t : r.tensors) {
    const auto d = exact_delta(dir / "delta", t.name);
    const auto d2 = exact_delta(dir / "delta2", t.name);
    const auto b = model_values(dir / "base", t.name);
    const auto nb = model_values(dir / "new-base", t.name);
    ASSERT_EQ(t.elements, d.size()) << t.name;
    Oracle base, drift, other;
    long double dd = 0, max_abs = 0;
    std::uint64_t zeros = 0;
    for (std::size_t i = 0; i < d.size(); ++i) {
      dd += d[i] * d[i];
      max_abs = std::max(max_abs, std::fabs(d[i]));
      zeros += d[i] == 0;
      base.add(d[i], b[i]);
      drift.add(d[i], nb[i] - b[i]);
      other.add(d[i], d2[i]);
      total_base.add(d[i], b[i]);
      total_drift.add(d[i], nb[i] - b[i]);
      total_other.add(d[i], d2[i]);
    }
    total_dd += dd;
    total_max = std::max(total_max, max_abs);
    total_elements += d.size();
    EXPECT_NEAR(t.delta_norm, std::sqrt(static_cast<double>(dd)), 1e-12 * std::sqrt(static_cast<double>(dd)));
    EXPECT_EQ(t.max_abs_delta, static_cast<double>(max_abs)) << t.name;
    EXPECT_EQ(t.zero_elements, zeros) << t.name;
    EXPECT_EQ(t.non_finite_elements, 0u);
    EXPECT_TRUE(t.notes.empty()) << t.name;
    ASSERT_TRUE(t.base && t.drift && t.other) << t.name;
    base.expect_matches(*t.base, t.name + " base");
    drift.expect_matches(*t.drift, t.name + " drift");
    other.expect_matches(*t.other, t.name + " other");
  }
  EXPECT_EQ(r.total.elements, total_elements);
  EXPECT_NEAR(r.total.delta_norm, std::sqrt(static_cast<double>(total_dd)), 1e-12 * r.total.delta_norm);
  EXPECT_EQ(r.total.max_abs_delta, static_cast<double>(total_max));
  ASSERT_TRUE(r.total.base && r.total.drift && r.total.other);
  total_base.expect_matches(*r.total.base, "total base");
  total_drift.expect_matches(*r.total.drift, "total drift");
  total_other.expect_matches(*r.total.other, "total other");
  // The statistics are not degenerate: the test would notice a swapped input.
  EXPECT_GT(r.total.drift->cosine, -0.5);
  EXPECT_LT(r.total.drift->cosine, 0.5);
  EXPECT_GT(r.total.other->opposite_signs, 0.1);
  EXPECT_NE(r.total.drift->ratio, r.total.other->ratio);
  ASSERT_TRUE(r.base_matches_manifest.has_value());
  EXPECT_TRUE(*r.base_matches_manifest);
  EXPECT_EQ(r.summary.tensors, r.tensors.size());
}

TEST_F(AnalyzeFixture, ADeltaAgainstItselfHasCosineOneAndRatioOne) {
  AnalyzeOptions o = options(false, false, false);
  o.other_delta = o.delta;
  const AnalyzeReport r = analyze_delta(o);
  ASSERT_TRUE(r.total.other);
  EXPECT_NEAR(r.total.other->cosine, 1.0, 1e-15);
  EXPECT_EQ(r.total.other->ratio, 1.0);
  EXPECT_EQ(r.total.other->opposite_signs, 0.0);
  EXPECT_FALSE(r.total.base);
  EXPECT_FALSE(r.total.drift);
  EXPECT_FALSE(r.base_matches_manifest.has_value());
}

TEST_F(AnalyzeFixture, ABaseThatIsNotTheDeltasOwnIsReported) {
  AnalyzeOptions o = options(false, false, false);
  o.base = (dir / "new-base").string();
  const AnalyzeReport r = analyze_delta(o);
  ASSERT_TRUE(r.base_matches_manifest.has_value());
  EXPECT_FALSE(*r.base_matches_manifest);
  bool noted = false;
  for (const auto& n : r.summary.notes)
    noted |= n.find("not the one the delta was computed from") != std::string::npos;
  EXPECT_TRUE(noted);
}

TEST_F(AnalyzeFixture, ANewBaseWithoutTheOldBaseIsAUsageError) {
  expect_error([&] { analyze_delta(options(false, true, false)); }, ErrorKind::kUsage,
               {"give base", "with new_base"});
}

TEST_F(AnalyzeFixture, ATensorWhoseShapeDiffersInTheNewBaseIsLeftOutOfTheDriftOnly) {
  TensorMap nb = llama_tensors(DType::kBF16, kLayers, kHidden, kVocab + 4, 1, false, 0.001, 99);
  write_model(dir / "grown", nb, config_for(kVocab + 4, false));
  AnalyzeOptions o = options(true, false, false);
  o.new_base = (dir / "grown").string();
  const AnalyzeReport r = analyze_delta(o);
  std::uint64_t drift_elements = 0;
  for (const auto& t : r.tensors) {
    ASSERT_TRUE(t.base) << t.name;
    const bool vocab_tensor = t.name.find("embed_tokens") != std::string::npos || t.name == "lm_head.weight";
    EXPECT_EQ(t.drift.has_value(), !vocab_tensor) << t.name;
    if (vocab_tensor) {
      ASSERT_EQ(t.notes.size(), 1u);
      EXPECT_NE(t.notes[0].find("drift left out"), std::string::npos) << t.notes[0];
    }
    if (t.drift) drift_elements += t.drift->elements;
  }
  ASSERT_TRUE(r.total.drift);
  EXPECT_EQ(r.total.drift->elements, drift_elements);
  EXPECT_LT(drift_elements, r.total.elements);
  EXPECT_EQ(r.total.base->elements, r.total.elements);
}

TEST_F(AnalyzeFixture, AVocabularyOverlapDeltaIsAnalysedOverItsDeltaRows) {
  write_model(dir / "post-wide", post_tensors(DType::kBF16, false, kVocab + 4),
              config_for(kVocab + 4, false));
  ComputeOptions co = compute_options(dir / "base", dir / "post-wide", dir / "delta-wide");
  co.vocab_mismatch = VocabMismatch::kOverlap;
  compute_delta(co);
  AnalyzeOptions o = options(true, true, false);
  o.delta = (dir / "delta-wide").string();
  const AnalyzeReport r = analyze_delta(o);
  for (const auto& t : r.tensors) {
    if (t.name != "model.embed_tokens.weight") continue;
    EXPECT_EQ(t.elements, static_cast<std::uint64_t>(kVocab) * kHidden);
    ASSERT_TRUE(t.base && t.drift);
    EXPECT_EQ(t.drift->elements, t.elements);
    ASSERT_EQ(t.notes.size(), 1u);
    EXPECT_NE(t.notes[0].find("rows from 24 on"), std::string::npos) << t.notes[0];
    const auto d = exact_delta(dir / "delta-wide", t.name);
    long double dd = 0;
    for (std::uint64_t i = 0; i < t.elements; ++i) dd += d[i] * d[i];
    EXPECT_NEAR(t.delta_norm, std::sqrt(static_cast<double>(dd)), 1e-12 * t.delta_norm);
    return;
  }
  FAIL() << "no embedding tensor";
}

TEST_F(AnalyzeFixture, NonFiniteDeltaElementsAreCountedAndLeftOut) {
  TensorMap post = post_tensors(DType::kBF16);
  auto& w = post.at("model.norm.weight").values;
  w.at(3) = INFINITY;
  w.at(5) = NAN;
  write_model(dir / "post-inf", post, config_for(kVocab, false));
  ComputeOptions co = compute_options(dir / "base", dir / "post-inf", dir / "delta-inf");
  co.allow_non_finite = true;
  compute_delta(co);
  AnalyzeOptions o = options(true, false, false);
  o.delta = (dir / "delta-inf").string();
  const AnalyzeReport r = analyze_delta(o);
  EXPECT_EQ(r.total.non_finite_elements, 2u);
  EXPECT_TRUE(std::isfinite(r.total.delta_norm));
  EXPECT_EQ(r.total.base->skipped, 2u);
  EXPECT_EQ(r.total.base->elements, r.total.elements - 2);
  bool noted = false;
  for (const auto& n : r.summary.notes) noted |= n.find("2 elements of the delta are NaN or infinite") == 0;
  EXPECT_TRUE(noted);
}

TEST_F(AnalyzeFixture, JsonCarriesTheTotalsAndEveryTensor) {
  const AnalyzeReport r = analyze_delta(options());
  const auto j = nlohmann::json::parse(to_json(r));
  EXPECT_EQ(j["operation"], "analyze");
  EXPECT_EQ(j["base_matches_manifest"], true);
  EXPECT_EQ(j["tensors"].size(), r.tensors.size());
  EXPECT_EQ(j["total"]["drift"]["ratio"].get<double>(), r.total.drift->ratio);
  EXPECT_EQ(j["total"]["other_delta"]["cosine"].get<double>(), r.total.other->cosine);
  EXPECT_EQ(j["total"]["relative_change"].get<double>(), r.total.base->delta_norm / r.total.base->norm);
}

TEST_F(AnalyzeFixture, TheHtmlPageIsWrittenWholeAndAnExistingOneNeedsForce) {
  AnalyzeOptions o = options();
  o.html = dir / "report.html";
  const AnalyzeReport r = analyze_delta(o);
  const std::string page = read_file(o.html);
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(page.find("</html>"), std::string::npos);
  EXPECT_EQ(r.summary.output, o.html.string());
  EXPECT_EQ(r.summary.bytes_written, page.size());

  write_file(o.html, "mine");
  expect_error([&] { analyze_delta(o); }, ErrorKind::kExists,
               {"report.html", "pass force=true to replace it"});
  EXPECT_EQ(read_file(o.html), "mine");
  EXPECT_EQ(entries_in(dir.path()), 7u) << "no staging file left behind";  // 4 models, 2 deltas, the page
  o.run.force = true;
  analyze_delta(o);
  EXPECT_EQ(read_file(o.html).rfind("<!DOCTYPE html>", 0), 0u);
}

TEST(Analyze, RelativeChangeFollowsTheRatioConventions) {
  TensorAnalysis t;
  EXPECT_TRUE(std::isnan(t.relative_change()));  // no base
  t.base = VectorComparison{};
  EXPECT_EQ(t.relative_change(), 0.0);  // zero delta on a zero base
  t.base->delta_norm = 2;
  EXPECT_EQ(t.relative_change(), INFINITY);  // a change to a zero base
  t.base->norm = 8;
  EXPECT_EQ(t.relative_change(), 0.25);
}

// A tensor of several chunks, with exceptions: the sums do not depend on the
// thread count, bit for bit.
TEST(Analyze, ResultsAreTheSameBitForBitWithOneOrTwoThreads) {
  ScratchDir dir;
  std::mt19937_64 rng(5);
  std::normal_distribution<double> normal(0.0, 0.02);
  TestTensor base{DType::kF32, {700, 1000}, {}, {}}, post = base, next = base;
  for (int i = 0; i < 700 * 1000; ++i) {
    base.values.push_back(normal(rng));
    post.values.push_back(base.values.back() + 0.01 * normal(rng));
    next.values.push_back(base.values.back() + 0.01 * normal(rng));
  }
  write_model(dir / "base", {{"w", base}});
  write_model(dir / "post", {{"w", post}});
  write_model(dir / "next", {{"w", next}});
  compute_delta(compute_options(dir / "base", dir / "post", dir / "delta"));
  ASSERT_GT(Checkpoint::open(dir / "delta" / "exceptions.safetensors").tensors().size(), 0u);
  AnalyzeOptions o;
  o.delta = (dir / "delta").string();
  o.base = (dir / "base").string();
  o.new_base = (dir / "next").string();
  o.run.threads = 1;
  const AnalyzeReport one = analyze_delta(o);
  o.run.threads = 2;
  const AnalyzeReport two = analyze_delta(o);
  EXPECT_EQ(one.total.delta_norm, two.total.delta_norm);
  EXPECT_EQ(one.total.drift->cosine, two.total.drift->cosine);
  EXPECT_EQ(one.total.drift->ratio, two.total.drift->ratio);
  EXPECT_EQ(one.total.base->norm, two.total.base->norm);
  EXPECT_NEAR(one.total.drift->ratio, 1.0, 0.01);  // two independent moves of the same size
  EXPECT_NEAR(one.total.drift->cosine, 0.0, 0.01);
}

// Blocks gather the tensors named up to an all-digit component, in numeric order.
TEST(Analyze, BlocksSumTheirTensorsInNumericOrder) {
  ScratchDir dir;
  TensorMap base, post;
  std::uint64_t seed = 1;
  for (const char* name :
       {"model.layers.10.mlp.weight", "model.layers.2.mlp.weight", "model.layers.2.attn.weight",
        "model.layers.0.mlp.weight", "lm_head.weight", "model.layers.x1.weight"}) {
    TestTensor b{DType::kF32, {3, 5}, {}, {}}, p = b;
    for (int i = 0; i < 15; ++i) {
      b.values.push_back(std::sin(static_cast<double>(seed * 31 + i)));
      p.values.push_back(b.values.back() + 0.01 * std::cos(static_cast<double>(seed * 17 + i)));
    }
    ++seed;
    base[name] = b;
    post[name] = p;
  }
  write_model(dir / "base", base);
  write_model(dir / "post", post);
  compute_delta(compute_options(dir / "base", dir / "post", dir / "delta"));
  AnalyzeOptions o;
  o.delta = (dir / "delta").string();
  o.base = (dir / "base").string();
  const AnalyzeReport r = analyze_delta(o);
  ASSERT_EQ(r.blocks.size(), 3u);
  EXPECT_EQ(r.blocks[0].name, "model.layers.0");
  EXPECT_EQ(r.blocks[1].name, "model.layers.2");
  EXPECT_EQ(r.blocks[2].name, "model.layers.10");
  double squares = 0, base_squares = 0;
  for (const auto& t : r.tensors) {
    if (t.name.rfind("model.layers.2.", 0) != 0) continue;
    squares += t.delta_norm * t.delta_norm;
    base_squares += t.base->norm * t.base->norm;
  }
  EXPECT_EQ(r.blocks[1].elements, 30u);
  EXPECT_NEAR(r.blocks[1].delta_norm, std::sqrt(squares), 1e-12 * r.blocks[1].delta_norm);
  ASSERT_TRUE(r.blocks[1].base);
  EXPECT_NEAR(r.blocks[1].base->norm, std::sqrt(base_squares), 1e-12 * r.blocks[1].base->norm);
  EXPECT_FALSE(r.blocks[1].drift);
  const auto j = nlohmann::json::parse(to_json(r));
  ASSERT_EQ(j["blocks"].size(), 3u);
  EXPECT_EQ(j["blocks"][2]["name"], "model.layers.10");
}

}  // namespace
}  // namespace paramdelta
