#include "eval/tokenizer_pieces.h"

#include <algorithm>

namespace paramdelta::tok {

Piece Piece::slice(std::size_t begin, std::size_t end) const {
  Piece out;
  out.text.assign(text, begin, end - begin);
  out.origin_bytes = origin_bytes > begin ? std::min(origin_bytes - begin, end - begin) : 0;
  return out;
}

void Piece::prepend(std::string_view prefix) {
  text.insert(0, prefix);
  if (origin_bytes > 0) origin_bytes += prefix.size();
}

SplitBehavior parse_split_behavior(const Json& value, const JsonAt& at) {
  const std::string name = as_string(value, at);
  if (name == "Removed") return SplitBehavior::kRemoved;
  if (name == "Isolated") return SplitBehavior::kIsolated;
  if (name == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (name == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (name == "Contiguous") return SplitBehavior::kContiguous;
  fail_unsupported(at, "split behavior", name,
                   "Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous");
}

namespace {

struct Span {
  Range range;
  bool flag;  // a delimiter (before the behavior is applied) / to remove (after)
};

}  // namespace

void split_piece(Piece&& piece, const std::vector<Range>& matches, SplitBehavior behavior, bool invert,
                 std::vector<Piece>& out) {
  const std::size_t length = piece.text.size();
  if (length == 0) return;
  // Matches and the gaps between them, covering the whole text.
  std::vector<Span> spans;
  spans.reserve(matches.size() * 2 + 1);
  std::size_t previous = 0;
  for (const Range& m : matches) {
    if (previous != m.begin) spans.push_back(Span{{previous, m.begin}, invert});
    spans.push_back(Span{m, !invert});
    previous = m.end;
  }
  if (previous != length) spans.push_back(Span{{previous, length}, invert});

  std::vector<Span> cuts;  // flag: remove
  cuts.reserve(spans.size());
  switch (behavior) {
    case SplitBehavior::kRemoved:
      cuts = std::move(spans);
      break;
    case SplitBehavior::kIsolated:
      for (const Span& s : spans) cuts.push_back(Span{s.range, false});
      break;
    case SplitBehavior::kContiguous: {
      bool previous_match = false;
      for (const Span& s : spans) {
        if (s.flag == previous_match && !cuts.empty()) {
          cuts.back().range.end = s.range.end;
        } else {
          cuts.push_back(Span{s.range, false});
        }
        previous_match = s.flag;
      }
      break;
    }
    case SplitBehavior::kMergedWithPrevious: {
      bool previous_match = false;
      for (const Span& s : spans) {
        if (s.flag && !previous_match && !cuts.empty()) {
          cuts.back().range.end = s.range.end;
        } else {
          cuts.push_back(Span{s.range, false});
        }
        previous_match = s.flag;
      }
      break;
    }
    case SplitBehavior::kMergedWithNext: {
      bool previous_match = false;
      for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
        if (it->flag && !previous_match && !cuts.empty()) {
          cuts.back().range.begin = it->range.begin;
        } else {
          cuts.push_back(Span{it->range, false});
        }
        previous_match = it->flag;
      }
      std::reverse(cuts.begin(), cuts.end());
      break;
    }
  }

  for (const Span& c : cuts) {
    if (c.flag || c.range.begin == c.range.end) continue;
    if (c.range.begin == 0 && c.range.end == length) {
      out.push_back(std::move(piece));  // unchanged: no copy
      return;
    }
    out.push_back(piece.slice(c.range.begin, c.range.end));
  }
}

}  // namespace paramdelta::tok
