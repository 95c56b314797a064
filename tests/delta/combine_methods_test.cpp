// combine --method ties | dare | dare-ties: the merged delta, element for
// element, against each method's definition evaluated here on the exact
// deltas (whole tensors at once, sorted, no streaming).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>

#include "delta/delta_test_support.h"
#include "engine/merge_kernels.h"

namespace paramdelta {
namespace {

namespace fs = std::filesystem;
using namespace testing;

// A base and three independent post-trainings of it, and their deltas d0..d2.
void write_three_deltas(const fs::path& dir, const TensorMap& base, const std::string& config,
                        const std::function<TensorMap(int)>& post) {
  write_model(dir / "B", base, config);
  for (int i = 0; i < 3; ++i) {
    const std::string p = "P" + std::to_string(i), d = "d" + std::to_string(i);
    write_model(dir / p, post(i), config);
    compute_delta(compute_options(dir / "B", dir / p, dir / d));
  }
}

void write_llama_deltas(const fs::path& dir) {
  write_three_deltas(dir, base_tensors(DType::kBF16), config_for(kVocab, false), [](int i) {
    return post_tensors(DType::kBF16, false, kVocab, 7 + static_cast<std::uint64_t>(i));
  });
}

// One tensor of 600k bf16 elements: bigger than a chunk, so that two threads
// share it.
void write_large_deltas(const fs::path& dir) {
  auto tensor = [](std::uint64_t seed, double scale) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> g(0.0, scale);
    TestTensor t;
    t.shape = {600, 1000};
    t.values.resize(600'000);
    for (auto& v : t.values) v = g(rng);
    return t;
  };
  TensorMap base{{"w", tensor(1, 1.0)}};
  write_three_deltas(dir, base, "{}", [&](int i) {
    TensorMap post = base;
    const TestTensor noise = tensor(10 + static_cast<std::uint64_t>(i), 0.01);
    for (std::size_t e = 0; e < noise.values.size(); ++e) post["w"].values[e] += noise.values[e];
    return post;
  });
}

CombineOptions method_options(const fs::path& dir, CombineMethod method, double density,
                              const fs::path& out) {
  CombineOptions o;
  for (int i = 0; i < 3; ++i) o.deltas.push_back((dir / ("d" + std::to_string(i))).string());
  o.method = method;
  o.density = density;
  o.output = out;
  o.delta_dtype = DType::kF32;
  o.run.threads = 2;
  return o;
}

// The definitions. TIES keeps ⌈density·n⌉ elements of each delta, the largest
// in magnitude (compared as float32, equal ones in index order).
std::vector<bool> ties_kept(const std::vector<long double>& v, double density) {
  const std::size_t keep =
      std::min(v.size(), static_cast<std::size_t>(std::ceil(density * static_cast<double>(v.size()))));
  std::vector<std::size_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return static_cast<float>(std::fabs(static_cast<double>(v[a]))) >
           static_cast<float>(std::fabs(static_cast<double>(v[b])));
  });
  std::vector<bool> kept(v.size(), false);
  for (std::size_t i = 0; i < keep; ++i) kept[order[i]] = true;
  return kept;
}

double elect_and_average(const std::vector<double>& x, const std::vector<double>& w) {
  double total = 0;
  for (std::size_t i = 0; i < x.size(); ++i) total += w[i] * x[i];
  double sum = 0, weight = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (total != 0 && x[i] != 0 && (x[i] > 0) == (total > 0)) {
      sum += w[i] * x[i];
      weight += w[i];
    }
  }
  return weight > 0 ? sum / weight : 0.0;
}

// The expected merged tensor `name` (float32 output).
std::vector<float> expected(const fs::path& dir, const std::string& name, CombineMethod method,
                            double density, std::uint64_t seed, const std::vector<double>& weights) {
  std::vector<std::vector<double>> values;
  for (int i = 0; i < 3; ++i) {
    const auto exact = exact_delta(dir / ("d" + std::to_string(i)), name);
    std::vector<double> v(exact.begin(), exact.end());
    if (method == CombineMethod::kTies) {
      const auto kept = ties_kept(exact, density);
      for (std::size_t e = 0; e < v.size(); ++e)
        if (!kept[e]) v[e] = 0;
    } else {
      const engine::DropMask mask(seed, static_cast<std::size_t>(i), name, density);
      for (std::size_t e = 0; e < v.size(); ++e) v[e] = mask.keeps(e) ? v[e] * (1.0 / density) : 0.0;
    }
    values.push_back(std::move(v));
  }
  std::vector<float> out(values[0].size());
  for (std::size_t e = 0; e < out.size(); ++e) {
    const std::vector<double> x = {values[0][e], values[1][e], values[2][e]};
    double r = 0;
    if (method == CombineMethod::kDare) {
      for (std::size_t i = 0; i < 3; ++i) r += weights[i] * x[i];
    } else {
      r = elect_and_average(x, weights);
    }
    out[e] = static_cast<float>(r);
  }
  return out;
}

// Every tensor of the merged delta equals the definition; returns how many
// elements came out zero and how many there are.
std::pair<std::size_t, std::size_t> expect_definition(const fs::path& dir, const fs::path& merged,
                                                      CombineMethod method, double density,
                                                      std::uint64_t seed,
                                                      const std::vector<double>& weights) {
  std::size_t zeros = 0, total = 0;
  for (const auto& [name, bytes] : read_all_bytes(dir / "B")) {
    const ReadTensor got = read_tensor(merged, name, "delta");
    EXPECT_EQ(got.dtype, DType::kF32);
    const std::vector<float> want = expected(dir, name, method, density, seed, weights);
    EXPECT_EQ(got.values.size(), want.size()) << name;
    std::size_t wrong = 0;
    for (std::size_t e = 0; e < want.size() && e < got.values.size(); ++e) {
      wrong += static_cast<float>(got.values[e]) != want[e];
      zeros += want[e] == 0.0f;
    }
    total += want.size();
    EXPECT_EQ(wrong, 0u) << name;
  }
  return {zeros, total};
}

nlohmann::json manifest_of(const fs::path& delta) {
  return nlohmann::json::parse(read_file(delta / "paramdelta.json"));
}

TEST(CombineMethods, TiesKeepsTheLargestElementsElectsSignsAndAveragesTheAgreeingOnes) {
  ScratchDir dir;
  write_llama_deltas(dir.path());
  CombineOptions o = method_options(dir.path(), CombineMethod::kTies, 0.3, dir / "ties");
  o.weights = {1.0, 2.0, 0.5};
  const OperationSummary s = combine_deltas(o);
  EXPECT_FALSE(s.lossless);
  ASSERT_FALSE(s.notes.empty());
  EXPECT_NE(s.notes.back().find("30%"), std::string::npos) << s.notes.back();
  const auto [zeros, total] =
      expect_definition(dir.path(), dir / "ties", CombineMethod::kTies, 0.3, 0, o.weights);
  // Each delta keeps 30 % of its elements: about 0.7³ ≈ 34 % of the elements
  // are kept by none and come out zero (a few more where no sign wins).
  EXPECT_GT(zeros, total / 3);
  EXPECT_LT(zeros, total * 3 / 4);
  const auto m = manifest_of(dir / "ties");
  EXPECT_EQ(m["combine_method"], "ties");
  EXPECT_EQ(m["combine_density"], 0.3);
  EXPECT_FALSE(m.contains("combine_seed"));
  EXPECT_EQ(m["combine_weights"], nlohmann::json({1.0, 2.0, 0.5}));
}

TEST(CombineMethods, DareDropsAtRandomRescalesAndSums) {
  ScratchDir dir;
  write_llama_deltas(dir.path());
  CombineOptions o = method_options(dir.path(), CombineMethod::kDare, 0.4, dir / "dare");
  o.seed = 11;
  o.weights = {0.5, 0.25, 1.0};
  combine_deltas(o);
  const auto [zeros, total] =
      expect_definition(dir.path(), dir / "dare", CombineMethod::kDare, 0.4, 11, o.weights);
  EXPECT_NEAR(static_cast<double>(zeros) / total, 0.6 * 0.6 * 0.6, 0.05);  // dropped from all three
  const auto m = manifest_of(dir / "dare");
  EXPECT_EQ(m["combine_method"], "dare");
  EXPECT_EQ(m["combine_seed"], 11);

  // Another seed draws other elements.
  o.seed = 12;
  o.output = dir / "dare12";
  combine_deltas(o);
  EXPECT_NE(read_all_bytes(dir / "dare", "delta"), read_all_bytes(dir / "dare12", "delta"));
}

TEST(CombineMethods, DareTiesDropsThenElectsSigns) {
  ScratchDir dir;
  write_llama_deltas(dir.path());
  CombineOptions o = method_options(dir.path(), CombineMethod::kDareTies, 0.5, dir / "dt");
  o.seed = 3;
  combine_deltas(o);
  expect_definition(dir.path(), dir / "dt", CombineMethod::kDareTies, 0.5, 3, {1.0, 1.0, 1.0});
}

TEST(CombineMethods, ATensorSharedByThreadsGivesTheSameBytesAsOneThread) {
  ScratchDir dir;
  write_large_deltas(dir.path());
  for (CombineMethod method : {CombineMethod::kTies, CombineMethod::kDareTies}) {
    const std::string name = combine_method_name(method);
    CombineOptions o = method_options(dir.path(), method, 0.2, dir / (name + "1"));
    o.seed = 5;
    o.run.threads = 1;
    combine_deltas(o);
    o.output = dir / (name + "2");
    o.run.threads = 2;
    combine_deltas(o);
    EXPECT_EQ(read_all_bytes(dir / (name + "1"), "delta"), read_all_bytes(dir / (name + "2"), "delta"))
        << name;
    expect_definition(dir.path(), dir / (name + "2"), method, 0.2, 5, {1.0, 1.0, 1.0});
  }
}

TEST(CombineMethods, TiesOfOneDeltaWithItselfIsThatDelta) {
  ScratchDir dir;
  write_llama_deltas(dir.path());
  CombineOptions o;
  o.deltas = {(dir / "d0").string(), (dir / "d0").string()};
  o.method = CombineMethod::kTies;
  o.output = dir / "same";
  o.delta_dtype = DType::kF32;
  combine_deltas(o);
  for (const auto& [name, bytes] : read_all_bytes(dir / "B")) {
    const auto exact = exact_delta(dir / "d0", name);
    const ReadTensor got = read_tensor(dir / "same", name, "delta");
    for (std::size_t e = 0; e < exact.size(); ++e)
      ASSERT_EQ(static_cast<float>(got.values[e]), static_cast<float>(exact[e])) << name << " " << e;
  }
}

TEST(CombineMethods, BadSettingsAreUsageErrors) {
  ScratchDir dir;
  write_llama_deltas(dir.path());
  for (double density : {0.0, -0.5, 1.5, std::nan("")}) {
    expect_error(
        [&] { combine_deltas(method_options(dir.path(), CombineMethod::kTies, density, dir / "x")); },
        ErrorKind::kUsage, {"density", "at most 1"});
  }
  expect_error([&] { combine_deltas(method_options(dir.path(), CombineMethod::kSum, 0.5, dir / "x")); },
               ErrorKind::kUsage, {"density", "method=ties"});
  CombineOptions negative = method_options(dir.path(), CombineMethod::kTies, 0.5, dir / "x");
  negative.weights = {1.0, -1.0, 1.0};
  expect_error([&] { combine_deltas(negative); }, ErrorKind::kUsage, {"ties", "positive weights (weights)"});
  negative.method = CombineMethod::kDare;  // a plain weighted sum after the drop: any sign
  combine_deltas(negative);
}

TEST(CombineMethods, NonFiniteDeltaValuesAreRefusedWithTheirPlace) {
  ScratchDir dir;
  write_llama_deltas(dir.path());
  TensorMap post = post_tensors(DType::kBF16, false, kVocab, 20);
  const std::string name = "model.layers.0.mlp.up_proj.weight";
  post.at(name).values.at(5) = std::numeric_limits<double>::infinity();
  write_model(dir / "Pinf", post, config_for(kVocab, false));
  ComputeOptions c = compute_options(dir / "B", dir / "Pinf", dir / "dinf");
  c.allow_non_finite = true;
  compute_delta(c);
  CombineOptions o = method_options(dir.path(), CombineMethod::kTies, 0.5, dir / "x");
  o.deltas[1] = (dir / "dinf").string();
  expect_error([&] { combine_deltas(o); }, ErrorKind::kNonFinite, {"dinf", name, "element 5", "method=sum"});
  EXPECT_FALSE(fs::exists(dir / "x"));
}

TEST(CombineMethods, MethodNamesRoundTrip) {
  for (CombineMethod m :
       {CombineMethod::kSum, CombineMethod::kTies, CombineMethod::kDare, CombineMethod::kDareTies})
    EXPECT_EQ(parse_combine_method(combine_method_name(m)), m);
  EXPECT_FALSE(parse_combine_method("TIES").has_value());
  EXPECT_FALSE(parse_combine_method("").has_value());
}

}  // namespace
}  // namespace paramdelta
