#include "eval/tokenizer_pre_tokenizers.h"

#include "eval/tokenizer_byte_level.h"
#include "eval/tokenizer_regex.h"
#include "eval/unicode_utf8.h"

namespace paramdelta::tok {

namespace {

// Applies `split(piece, out)` to every non-added piece, keeping added ones in place.
template <typename SplitFn>
void split_each(std::vector<Piece>& pieces, SplitFn&& split) {
  std::vector<Piece> out;
  out.reserve(pieces.size());
  for (Piece& p : pieces) {
    if (p.is_added()) {
      out.push_back(std::move(p));
    } else if (!p.text.empty()) {
      split(std::move(p), out);
    }
  }
  pieces = std::move(out);
}

// GPT-2's pattern, which ByteLevel applies when use_regex is true.
constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

class ByteLevelPreTokenizer final : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, bool use_regex)
      : add_prefix_space_(add_prefix_space),
        regex_(use_regex ? std::make_unique<Regex>(kGpt2Pattern, JsonAt{"(built-in GPT-2 pattern)", {}})
                         : nullptr) {}

  void pre_tokenize(std::vector<Piece>& pieces) const override {
    std::vector<Range> matches;
    split_each(pieces, [&](Piece&& p, std::vector<Piece>& out) {
      if (add_prefix_space_ && p.text.front() != ' ') p.prepend(" ");
      if (!regex_) {
        out.push_back(std::move(p));
        return;
      }
      matches.clear();
      regex_->find_all(p.text, matches);
      split_piece(std::move(p), matches, SplitBehavior::kIsolated, false, out);
    });
    for (Piece& p : pieces) {
      if (p.is_added()) continue;
      std::size_t origin = 0;
      for (std::size_t k = 0; k < p.origin_bytes; ++k) {
        origin += byte_level_char(static_cast<unsigned char>(p.text[k])).size();
      }
      p.text = byte_level_encode(p.text);
      p.origin_bytes = origin;
    }
  }

 private:
  bool add_prefix_space_;
  std::unique_ptr<Regex> regex_;
};

class SplitPreTokenizer final : public PreTokenizer {
 public:
  SplitPreTokenizer(TextPattern pattern, SplitBehavior behavior, bool invert)
      : pattern_(std::move(pattern)), behavior_(behavior), invert_(invert) {}

  void pre_tokenize(std::vector<Piece>& pieces) const override {
    std::vector<Range> matches;
    split_each(pieces, [&](Piece&& p, std::vector<Piece>& out) {
      matches.clear();
      pattern_.find_all(p.text, matches);
      split_piece(std::move(p), matches, behavior_, invert_, out);
    });
  }

 private:
  TextPattern pattern_;
  SplitBehavior behavior_;
  bool invert_;
};

enum class PrependScheme { kAlways, kFirst, kNever };

class MetaspacePreTokenizer final : public PreTokenizer {
 public:
  MetaspacePreTokenizer(char32_t replacement, PrependScheme scheme, bool split)
      : replacement_(replacement), scheme_(scheme), split_(split) {
    append_utf8(replacement_text_, replacement);
  }

  void pre_tokenize(std::vector<Piece>& pieces) const override {
    std::vector<Range> matches;
    split_each(pieces, [&](Piece&& p, std::vector<Piece>& out) {
      replace_spaces(p);
      const bool starts_with_replacement =
          p.text.compare(0, replacement_text_.size(), replacement_text_) == 0;
      if (!starts_with_replacement &&
          (scheme_ == PrependScheme::kAlways || (scheme_ == PrependScheme::kFirst && p.starts_at_origin()))) {
        p.prepend(replacement_text_);
      }
      if (!split_) {
        out.push_back(std::move(p));
        return;
      }
      matches.clear();
      const char32_t r = replacement_;
      find_chars(
          p.text, [r](char32_t c) { return c == r; }, matches);
      split_piece(std::move(p), matches, SplitBehavior::kMergedWithNext, false, out);
    });
  }

 private:
  // ' ' -> replacement; each replacement aligned with the space it replaces.
  void replace_spaces(Piece& p) const {
    if (p.text.find(' ') == std::string::npos) return;
    std::string out;
    out.reserve(p.text.size() + 8);
    std::size_t origin = 0;
    bool origin_open = true;
    for (std::size_t k = 0; k < p.text.size(); ++k) {
      const bool space = p.text[k] == ' ';
      const std::size_t added = space ? replacement_text_.size() : 1;
      if (origin_open) {
        if (k < p.origin_bytes) {
          origin += added;
        } else {
          origin_open = false;
        }
      }
      if (space) {
        out += replacement_text_;
      } else {
        out.push_back(p.text[k]);
      }
    }
    p.text = std::move(out);
    p.origin_bytes = origin;
  }

  char32_t replacement_;
  std::string replacement_text_;
  PrependScheme scheme_;
  bool split_;
};

// Splits on characters selected by a predicate (Digits, WhitespaceSplit, CharDelimiterSplit).
template <typename Predicate>
class CharSplitPreTokenizer final : public PreTokenizer {
 public:
  CharSplitPreTokenizer(Predicate predicate, SplitBehavior behavior)
      : predicate_(std::move(predicate)), behavior_(behavior) {}

  void pre_tokenize(std::vector<Piece>& pieces) const override {
    std::vector<Range> matches;
    split_each(pieces, [&](Piece&& p, std::vector<Piece>& out) {
      matches.clear();
      find_chars(p.text, predicate_, matches);
      split_piece(std::move(p), matches, behavior_, false, out);
    });
  }

 private:
  Predicate predicate_;
  SplitBehavior behavior_;
};

template <typename Predicate>
std::unique_ptr<PreTokenizer> char_split(Predicate predicate, SplitBehavior behavior) {
  return std::make_unique<CharSplitPreTokenizer<Predicate>>(std::move(predicate), behavior);
}

// Digits: Unicode numeric characters (Nd, Nl, No), as Rust's char::is_numeric.
class DigitsPreTokenizer final : public PreTokenizer {
 public:
  explicit DigitsPreTokenizer(bool individual)
      : regex_(R"(\p{N})", JsonAt{"(built-in digits pattern)", {}}), individual_(individual) {}

  void pre_tokenize(std::vector<Piece>& pieces) const override {
    std::vector<Range> matches;
    split_each(pieces, [&](Piece&& p, std::vector<Piece>& out) {
      matches.clear();
      regex_.find_all(p.text, matches);
      split_piece(std::move(p), matches, individual_ ? SplitBehavior::kIsolated : SplitBehavior::kContiguous,
                  false, out);
    });
  }

 private:
  Regex regex_;
  bool individual_;
};

class SequencePreTokenizer final : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> parts)
      : parts_(std::move(parts)) {}
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    for (const auto& part : parts_) part->pre_tokenize(pieces);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> parts_;
};

PrependScheme parse_prepend_scheme(const Json& value, const JsonAt& at) {
  if (const Json* scheme = optional_member(value, "prepend_scheme")) {
    const std::string name = as_string(*scheme, at / "prepend_scheme");
    if (name == "always") return PrependScheme::kAlways;
    if (name == "first") return PrependScheme::kFirst;
    if (name == "never") return PrependScheme::kNever;
    fail_unsupported(at / "prepend_scheme", "prepend_scheme", name, "always, first, never");
  }
  // Files written before prepend_scheme existed carry add_prefix_space instead.
  return bool_or(value, "add_prefix_space", at, true) ? PrependScheme::kAlways : PrependScheme::kNever;
}

std::unique_ptr<PreTokenizer> make_one(const Json& value, const JsonAt& at) {
  const std::string type = component_type(value, at);
  if (type == "Sequence") {
    const JsonAt list_at = at / "pretokenizers";
    const Json& list = member(value, "pretokenizers", at);
    if (!list.is_array()) fail(list_at, "expected an array");
    std::vector<std::unique_ptr<PreTokenizer>> parts;
    for (std::size_t i = 0; i < list.size(); ++i) {
      if (list[i].is_null()) fail(list_at[i], "expected a pre-tokenizer, found null");
      parts.push_back(make_one(list[i], list_at[i]));
    }
    return std::make_unique<SequencePreTokenizer>(std::move(parts));
  }
  if (type == "ByteLevel") {
    // Required, as Hugging Face requires it: its meaning changes every id.
    const bool add_prefix_space = as_bool(member(value, "add_prefix_space", at), at / "add_prefix_space");
    return std::make_unique<ByteLevelPreTokenizer>(add_prefix_space, bool_or(value, "use_regex", at, true));
  }
  if (type == "Split") {
    return std::make_unique<SplitPreTokenizer>(
        TextPattern::from_json(member(value, "pattern", at), at / "pattern"),
        parse_split_behavior(member(value, "behavior", at), at / "behavior"),
        bool_or(value, "invert", at, false));
  }
  if (type == "Metaspace") {
    const char32_t replacement = as_single_char(member(value, "replacement", at), at / "replacement");
    return std::make_unique<MetaspacePreTokenizer>(replacement, parse_prepend_scheme(value, at),
                                                   bool_or(value, "split", at, true));
  }
  if (type == "Digits") {
    return std::make_unique<DigitsPreTokenizer>(bool_or(value, "individual_digits", at, false));
  }
  if (type == "WhitespaceSplit") {
    return char_split([](char32_t c) { return is_white_space(c); }, SplitBehavior::kRemoved);
  }
  if (type == "CharDelimiterSplit") {
    const char32_t delimiter = as_single_char(member(value, "delimiter", at), at / "delimiter");
    return char_split([delimiter](char32_t c) { return c == delimiter; }, SplitBehavior::kRemoved);
  }
  fail_unsupported(at / "type", "pre-tokenizer type", type,
                   "Sequence, ByteLevel, Split, Metaspace, Digits, WhitespaceSplit, CharDelimiterSplit");
}

}  // namespace

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const Json& value, const JsonAt& at) {
  if (value.is_null()) return nullptr;
  return make_one(value, at);
}

}  // namespace paramdelta::tok
