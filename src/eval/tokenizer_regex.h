// The patterns of tokenizer.json (Split and ByteLevel pre-tokenizers, Replace
// normalizers and decoders). Hugging Face evaluates them with Oniguruma in Ruby
// syntax; we run them with PCRE2 (UTF + UCP, JIT when available) after
// translating the few escapes whose meaning differs between the two engines,
// and we report matches in the order and with the empty-match rules of
// Oniguruma's find_iter, so that the splits come out the same.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "eval/tokenizer_json.h"

namespace paramdelta::tok {

struct Range {
  std::size_t begin = 0;
  std::size_t end = 0;
};

// Rewrites an Oniguruma (Ruby syntax) pattern into an equivalent PCRE2 one:
// \s \S \w \W \h \H \b \B get Oniguruma's Unicode meaning; nested classes and class
// intersection (&&), which PCRE2 lacks, are rejected naming `at`.
std::string translate_onig_pattern(std::string_view pattern, const JsonAt& at);

class Regex {
 public:
  // `pattern` is in Oniguruma syntax; errors name `at` (file and field).
  Regex(std::string_view pattern, const JsonAt& at);
  ~Regex();
  Regex(Regex&&) noexcept;
  Regex& operator=(Regex&&) noexcept;

  // Appends the non-overlapping matches in `text` (valid UTF-8), left to right.
  // An empty match right where the previous match ended is skipped, as
  // Oniguruma's iterator does. Throws Error if the engine gives up (match limit).
  void find_all(std::string_view text, std::vector<Range>& out) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A Split / Replace pattern: {"String": literal} or {"Regex": pattern}.
class TextPattern {
 public:
  static TextPattern from_json(const Json& value, const JsonAt& at);
  static TextPattern literal(std::string text);

  void find_all(std::string_view text, std::vector<Range>& out) const;

 private:
  std::string literal_;
  std::shared_ptr<const Regex> regex_;  // null for a literal
};

}  // namespace paramdelta::tok
