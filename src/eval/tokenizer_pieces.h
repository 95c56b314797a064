// The text being tokenized, as a list of pieces: stretches of (normalized,
// pre-tokenized) text still to be run through the model, and added tokens
// already cut out with their id. This plays the role of Hugging Face's
// PreTokenizedString, keeping only what changes the ids.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "eval/tokenizer_json.h"
#include "eval/tokenizer_regex.h"
#include "eval/unicode_utf8.h"

namespace paramdelta::tok {

struct Piece {
  std::string text;
  std::int32_t added_id = -1;  // >= 0: an added token, final
  // How many leading bytes of `text` come from the first character of the
  // original input (offset 0). Metaspace's prepend_scheme "first" prepends only
  // to a piece whose text starts there.
  std::size_t origin_bytes = 0;

  bool is_added() const { return added_id >= 0; }
  bool starts_at_origin() const { return origin_bytes > 0; }
  Piece slice(std::size_t begin, std::size_t end) const;
  // Inserts `prefix` in front, aligned (like Hugging Face) with the first character.
  void prepend(std::string_view prefix);
};

// How a split treats the matched delimiters (Hugging Face SplitDelimiterBehavior).
enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

SplitBehavior parse_split_behavior(const Json& value, const JsonAt& at);

// Splits `piece` around `matches` (sorted, non-overlapping ranges of its text)
// and appends the resulting non-empty pieces to `out`. With `invert` the
// matches are the parts between the given ranges.
void split_piece(Piece&& piece, const std::vector<Range>& matches, SplitBehavior behavior, bool invert,
                 std::vector<Piece>& out);

// Appends the ranges of the single characters for which `predicate(code point)` holds.
template <typename Predicate>
void find_chars(std::string_view text, Predicate&& predicate, std::vector<Range>& out) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t length = 0;
    const char32_t c = decode_utf8(text, pos, &length);
    if (predicate(c)) out.push_back(Range{pos, pos + length});
    pos += length;
  }
}

}  // namespace paramdelta::tok
