// Shared set-up for the operation tests: small Llama-shaped model pairs
// written through the library, option structs with test defaults, and checks.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "paramdelta/checkpoint.h"
#include "paramdelta/error.h"
#include "paramdelta/operations.h"
#include "support/model_builder.h"
#include "support/test_support.h"

namespace paramdelta::testing {

inline constexpr int kLayers = 1;
inline constexpr int kHidden = 16;
inline constexpr int kVocab = 24;

// A base model and a post model (the base plus noise), the post's first
// tensor carrying the adversarial value pairs when `adversarial`.
inline TensorMap base_tensors(DType dtype, bool tied = false, int vocab = kVocab) {
  return llama_tensors(dtype, kLayers, kHidden, vocab, 1, tied);
}
inline TensorMap post_tensors(DType dtype, bool tied = false, int vocab = kVocab,
                              std::uint64_t noise_seed = 7) {
  return llama_tensors(dtype, kLayers, kHidden, vocab, 1, tied, 0.002, noise_seed);
}

// Puts the adversarial pairs at the start of tensor `name` of both models.
inline void inject_adversarial(TensorMap& base, TensorMap& post, const std::string& name) {
  std::vector<double> b, p;
  append_adversarial_pairs(base.at(name).dtype, b, p);
  for (std::size_t i = 0; i < b.size(); ++i) {
    base.at(name).values.at(i) = b[i];
    post.at(name).values.at(i) = p[i];
  }
}

inline std::string config_for(int vocab, bool tied) { return llama_config(kLayers, kHidden, vocab, tied); }

inline ComputeOptions compute_options(const std::filesystem::path& base, const std::filesystem::path& post,
                                      const std::filesystem::path& out) {
  ComputeOptions o;
  o.base = base.string();
  o.post = post.string();
  o.output = out;
  o.run.threads = 2;
  return o;
}

inline ApplyOptions apply_options(const std::filesystem::path& base, const std::filesystem::path& delta,
                                  const std::filesystem::path& out) {
  ApplyOptions o;
  o.base = base.string();
  o.delta = delta.string();
  o.output = out;
  o.run.threads = 2;
  return o;
}

inline VerifyOptions verify_options(const std::filesystem::path& base, const std::filesystem::path& delta,
                                    const std::filesystem::path& expect) {
  VerifyOptions o;
  o.base = base.string();
  o.delta = delta.string();
  o.expect = expect.string();
  o.run.threads = 2;
  return o;
}

// Every tensor of `a` and `b` (names, dtypes via bytes, and bytes) identical.
inline void expect_identical_models(const std::filesystem::path& a, const std::filesystem::path& b) {
  const auto ta = read_all_bytes(a), tb = read_all_bytes(b);
  ASSERT_EQ(ta.size(), tb.size());
  for (const auto& [name, bytes] : ta) {
    auto it = tb.find(name);
    ASSERT_NE(it, tb.end()) << name;
    EXPECT_TRUE(bytes == it->second) << "tensor " << name << " differs";
  }
}

// Runs `fn`, which must throw paramdelta::Error of `kind` whose one-line
// rendering contains every string of `parts`.
// Whether `text` holds a command-line flag ("--scale", "--delta-dtype").
inline bool names_a_flag(const std::string& text) {
  for (std::size_t at = text.find("--"); at != std::string::npos; at = text.find("--", at + 1)) {
    if (at + 2 < text.size() && text[at + 2] >= 'a' && text[at + 2] <= 'z') return true;
  }
  return false;
}

inline Error expect_error(const std::function<void()>& fn, ErrorKind kind,
                          const std::vector<std::string>& parts) {
  try {
    fn();
  } catch (const Error& e) {
    const std::string line = format_error_line(e);
    EXPECT_EQ(e.kind(), kind) << line;
    for (const auto& p : parts)
      EXPECT_NE(line.find(p), std::string::npos) << "'" << p << "' not in: " << line;
    // The library names its options by field; flags are the command line's.
    EXPECT_FALSE(names_a_flag(line)) << line;
    return e;
  }
  ADD_FAILURE() << "no paramdelta::Error thrown";
  return Error(ErrorKind::kInternal, "none");
}

// The exact delta of each element as the format defines it: the stored
// value, or post − base for the elements listed as exceptions.
inline std::vector<long double> exact_delta(const std::filesystem::path& delta_dir, const std::string& name) {
  const ReadTensor d = read_tensor(delta_dir, name, "delta");
  std::vector<long double> out(d.values.begin(), d.values.end());
  const std::filesystem::path ex = delta_dir / "exceptions.safetensors";
  if (!std::filesystem::exists(ex)) return out;
  auto ckpt = Checkpoint::open(ex);
  if (ckpt.find(name + "::exceptions.index") == nullptr) return out;
  const ReadTensor idx = read_tensor(ex, name + "::exceptions.index");
  const ReadTensor b = read_tensor(ex, name + "::exceptions.base");
  const ReadTensor p = read_tensor(ex, name + "::exceptions.post");
  for (std::size_t k = 0; k < idx.values.size(); ++k) {
    out.at(static_cast<std::size_t>(idx.values[k])) = static_cast<long double>(p.values[k]) - b.values[k];
  }
  return out;
}

inline std::size_t entries_in(const std::filesystem::path& dir) {
  return static_cast<std::size_t>(
      std::distance(std::filesystem::directory_iterator(dir), std::filesystem::directory_iterator()));
}

}  // namespace paramdelta::testing
