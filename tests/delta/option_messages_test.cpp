// The library's errors and notes name its options by their fields
// (ApplyOptions::scale is "scale"), never by a command-line flag, and let a
// front end spell each reference its own way. Each case runs the real
// operation to the point where it refuses its options.
#include <gtest/gtest.h>

#include <cmath>
#include <string_view>

#include "delta/delta_test_support.h"
#include "paramdelta/option_values.h"

namespace paramdelta {
namespace {

namespace fs = std::filesystem;
using namespace testing;

// A front end that spells options recognisably: <field> or <field:value>.
std::string marked(std::string_view field, std::string_view value) {
  std::string out = "<" + std::string(field);
  if (!value.empty()) out += ":" + std::string(value);
  return out + ">";
}

struct Case {
  const char* name;
  std::function<void()> run;
  std::string option;   // the option the error is about (its first reference)
  std::string spelled;  // what the front end's spelling must put in the line
};

void check(const Case& c) {
  SCOPED_TRACE(c.name);
  try {
    c.run();
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    const std::string library = format_error_line(e);
    EXPECT_FALSE(names_a_flag(library)) << library;
    EXPECT_FALSE(names_a_flag(e.what())) << e.what();
    EXPECT_FALSE(names_a_flag(e.message() + e.hint())) << library;
    ASSERT_FALSE(e.options().empty()) << library;
    EXPECT_EQ(e.options().front(), c.option) << library;
    const std::string front_end = format_error_line(e, marked);
    EXPECT_NE(front_end.find(c.spelled), std::string::npos) << front_end;
    // Nothing of the references' encoding is left in either spelling.
    for (const std::string* line : {&library, &front_end}) {
      for (char ch : *line) EXPECT_GE(static_cast<unsigned char>(ch), 0x20) << *line;
    }
  }
}

TEST(OptionMessages, UsageErrorsOfTheOperationsNameTheirOptionField) {
  ScratchDir dir;
  const fs::path out = dir / "out";
  std::vector<Case> cases;
  cases.push_back({"apply scale",
                   [&] {
                     auto o = apply_options(dir / "b", dir / "d", out);
                     o.scale = NAN;
                     apply_delta(o);
                   },
                   "scale", "<scale> must be a finite number"});
  cases.push_back({"apply dtype",
                   [&] {
                     auto o = apply_options(dir / "b", dir / "d", out);
                     o.dtype = DType::kI32;
                     apply_delta(o);
                   },
                   "dtype", "<dtype> must be a floating-point type"});
  cases.push_back({"compute delta_dtype",
                   [&] {
                     auto o = compute_options(dir / "b", dir / "p", out);
                     o.delta_dtype = DType::kU8;
                     compute_delta(o);
                   },
                   "delta_dtype", "<delta_dtype>"});
  const auto combine = [&](std::function<void(CombineOptions&)> set) {
    return [&dir, out, set] {
      CombineOptions o;
      o.deltas = {(dir / "d1").string(), (dir / "d2").string()};
      o.output = out;
      set(o);
      combine_deltas(o);
    };
  };
  cases.push_back({"combine one delta", combine([](CombineOptions& o) { o.deltas.pop_back(); }), "deltas",
                   "at least two deltas (<deltas>)"});
  cases.push_back({"combine weights count", combine([](CombineOptions& o) {
                     o.weights = {1, 2, 3};
                   }),
                   "weights", "got 3 weights (<weights>) for 2 deltas"});
  cases.push_back({"combine weight NaN", combine([](CombineOptions& o) {
                     o.weights = {1, NAN};
                   }),
                   "weights", "weights (<weights>) must be finite"});
  cases.push_back({"combine density for a sum", combine([](CombineOptions& o) { o.density = 0.5; }),
                   "density", "add <method:ties> (or dare, dare-ties), or drop <density>"});
  cases.push_back({"combine density range", combine([](CombineOptions& o) {
                     o.method = CombineMethod::kTies;
                     o.density = 2;
                   }),
                   "density", "<density> must be above 0"});
  cases.push_back({"combine ties weights", combine([](CombineOptions& o) {
                     o.method = CombineMethod::kTies;
                     o.weights = {1, -1};
                   }),
                   "weights", "positive weights (<weights>)"});
  cases.push_back({"combine delta_dtype", combine([](CombineOptions& o) { o.delta_dtype = DType::kI8; }),
                   "delta_dtype", "<delta_dtype> must be"});
  cases.push_back({"analyze without a delta", [] { analyze_delta(AnalyzeOptions{}); }, "delta",
                   "analyze needs a delta (<delta>)"});
  cases.push_back({"analyze new base alone",
                   [&] {
                     AnalyzeOptions o;
                     o.delta = (dir / "d").string();
                     o.new_base = (dir / "n").string();
                     analyze_delta(o);
                   },
                   "base", "give <base>, the model the delta was computed from, with <new_base>"});
  cases.push_back({"size", [] { parse_byte_size("5XB", "max_shard_size"); }, "max_shard_size",
                   "<max_shard_size> '5XB' is not a size"});
  cases.push_back({"float dtype", [] { parse_float_dtype("int8", "delta_dtype"); }, "delta_dtype",
                   "<delta_dtype> 'int8' is not supported"});
  cases.push_back({"vocabulary policy", [] { parse_vocab_mismatch("sometimes"); }, "vocab_mismatch",
                   "<vocab_mismatch> 'sometimes' is not a policy"});
  cases.push_back({"merge method", [] { parse_combine_method_option("mean"); }, "method",
                   "<method> 'mean' is not a method"});
  for (const auto& c : cases) check(c);
}

TEST(OptionMessages, RefusalsOfTheInputsNameTheOptionThatAllowsThem) {
  ScratchDir dir;
  write_model(dir / "base", base_tensors(DType::kBF16, false, 24), config_for(24, false));
  write_model(dir / "post", post_tensors(DType::kBF16, false, 28), config_for(28, false));
  check({"vocabulary", [&] { compute_delta(compute_options(dir / "base", dir / "post", dir / "d")); },
         "vocab_mismatch", "pass <vocab_mismatch:overlap> to take the delta"});
  auto tensors = post_tensors(DType::kF32);
  tensors.begin()->second.values.at(3) = NAN;
  write_model(dir / "nan_post", tensors, config_for(kVocab, false));
  write_model(dir / "f32_base", base_tensors(DType::kF32), config_for(kVocab, false));
  check({"non-finite", [&] { compute_delta(compute_options(dir / "f32_base", dir / "nan_post", dir / "d")); },
         "allow_non_finite", "pass <allow_non_finite:true> to carry"});
  check({"a model as the delta", [&] { apply_delta(apply_options(dir / "base", dir / "post", dir / "out")); },
         "base", "a model is given as the base (<base>)"});
  EXPECT_FALSE(fs::exists(dir / "d"));
  EXPECT_FALSE(fs::exists(dir / "out"));
}

TEST(OptionMessages, ANoteNamesTheOptionThatAllowedWhatItReports) {
  ScratchDir dir;
  write_model(dir / "base", base_tensors(DType::kBF16), llama_config(kLayers, kHidden, kVocab, false));
  std::string other = llama_config(kLayers, kHidden, kVocab, false);
  const std::size_t at = other.find("llama");
  ASSERT_NE(at, std::string::npos) << other;
  other.replace(at, 5, "gemma");
  write_model(dir / "post", post_tensors(DType::kBF16), other);
  auto o = compute_options(dir / "base", dir / "post", dir / "d");
  o.allow_architecture_mismatch = true;
  const OperationSummary s = compute_delta(o);
  bool found = false;
  for (const auto& note : s.notes) {
    if (referenced_options(note) != std::vector<std::string>{"allow_architecture_mismatch"}) continue;
    found = true;
    EXPECT_NE(spell_options(note).find("allowed by allow_architecture_mismatch=true"), std::string::npos);
    EXPECT_NE(spell_options(note, marked).find("<allow_architecture_mismatch:true>"), std::string::npos);
    EXPECT_FALSE(names_a_flag(spell_options(note)));
  }
  EXPECT_TRUE(found);
  // The JSON summary, shared by every front end, spells it in the library's words.
  EXPECT_NE(to_json(s).find("allowed by allow_architecture_mismatch=true"), std::string::npos) << to_json(s);
}

}  // namespace
}  // namespace paramdelta
