#include "eval/tokenizer_normalizers.h"

#include <algorithm>

#include "eval/tokenizer_byte_level.h"
#include "eval/tokenizer_regex.h"
#include "eval/unicode_nfc.h"
#include "eval/unicode_utf8.h"

namespace paramdelta::tok {

namespace {

class SequenceNormalizer final : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> parts) : parts_(std::move(parts)) {}
  void normalize(Piece& piece) const override {
    for (const auto& part : parts_) part->normalize(piece);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> parts_;
};

class PrependNormalizer final : public Normalizer {
 public:
  explicit PrependNormalizer(std::string prefix) : prefix_(std::move(prefix)) {}
  void normalize(Piece& piece) const override {
    if (!piece.text.empty()) piece.prepend(prefix_);
  }

 private:
  std::string prefix_;
};

class ReplaceNormalizer final : public Normalizer {
 public:
  ReplaceNormalizer(TextPattern pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}

  void normalize(Piece& piece) const override {
    std::vector<Range> matches;
    pattern_.find_all(piece.text, matches);
    if (matches.empty()) return;
    std::string out;
    out.reserve(piece.text.size() + matches.size() * content_.size());
    // Bytes of the result that still map to the original offset 0. Kept bytes
    // keep their alignment; the replacement takes the alignment of the last
    // byte of what it replaces (of the byte before, for an empty match).
    std::size_t origin = 0;
    bool origin_open = true;
    auto account = [&](bool at_origin, std::size_t n) {
      if (!origin_open) return;
      if (at_origin) {
        origin += n;
      } else if (n > 0) {
        origin_open = false;
      }
    };
    std::size_t previous = 0;
    for (const Range& m : matches) {
      for (std::size_t k = previous; k < m.begin && origin_open; ++k) account(k < piece.origin_bytes, 1);
      out.append(piece.text, previous, m.begin - previous);
      const std::size_t aligned_to = m.end > 0 ? m.end - 1 : 0;
      account(piece.origin_bytes > 0 && aligned_to < piece.origin_bytes, content_.size());
      out += content_;
      previous = m.end;
    }
    for (std::size_t k = previous; k < piece.text.size() && origin_open; ++k)
      account(k < piece.origin_bytes, 1);
    out.append(piece.text, previous, std::string::npos);
    piece.text = std::move(out);
    piece.origin_bytes = std::min(origin, piece.text.size());
  }

 private:
  TextPattern pattern_;
  std::string content_;
};

class StripNormalizer final : public Normalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  void normalize(Piece& piece) const override {
    const std::string& t = piece.text;
    std::size_t begin = 0;
    std::size_t end = t.size();
    if (left_) {
      while (begin < end) {
        std::size_t n = 0;
        if (!is_white_space(decode_utf8(t, begin, &n))) break;
        begin += n;
      }
    }
    if (right_) {
      while (end > begin) {
        std::size_t start = end - 1;
        while (start > begin && (static_cast<unsigned char>(t[start]) & 0xC0) == 0x80) --start;
        std::size_t n = 0;
        if (!is_white_space(decode_utf8(t, start, &n))) break;
        end = start;
      }
    }
    if (begin == 0 && end == t.size()) return;
    piece = piece.slice(begin, end);
  }

 private:
  bool left_;
  bool right_;
};

// Maps every byte to its byte-level character (normalizers.ByteLevel).
class ByteLevelNormalizer final : public Normalizer {
 public:
  void normalize(Piece& piece) const override {
    std::size_t origin = 0;
    for (std::size_t k = 0; k < piece.origin_bytes; ++k) {
      origin += byte_level_char(static_cast<unsigned char>(piece.text[k])).size();
    }
    piece.text = byte_level_encode(piece.text);
    piece.origin_bytes = origin;
  }
};

class NfcNormalizer final : public Normalizer {
 public:
  void normalize(Piece& piece) const override {
    std::string out = nfc(piece.text);
    if (out == piece.text) return;
    // Composition only merges characters into the first one, which keeps its
    // alignment; the first character of the original stays at the front.
    if (piece.origin_bytes > 0) {
      std::size_t n = 0;
      decode_utf8(out, 0, &n);
      piece.origin_bytes = n;
    }
    piece.text = std::move(out);
  }
};

std::unique_ptr<Normalizer> make_one(const Json& value, const JsonAt& at) {
  const std::string type = component_type(value, at);
  if (type == "Sequence") {
    const JsonAt list_at = at / "normalizers";
    const Json& list = member(value, "normalizers", at);
    if (!list.is_array()) fail(list_at, "expected an array");
    std::vector<std::unique_ptr<Normalizer>> parts;
    for (std::size_t i = 0; i < list.size(); ++i) {
      if (list[i].is_null()) fail(list_at[i], "expected a normalizer, found null");
      parts.push_back(make_one(list[i], list_at[i]));
    }
    return std::make_unique<SequenceNormalizer>(std::move(parts));
  }
  if (type == "Prepend") {
    return std::make_unique<PrependNormalizer>(as_string(member(value, "prepend", at), at / "prepend"));
  }
  if (type == "Replace") {
    return std::make_unique<ReplaceNormalizer>(
        TextPattern::from_json(member(value, "pattern", at), at / "pattern"),
        as_string(member(value, "content", at), at / "content"));
  }
  if (type == "Strip") {
    return std::make_unique<StripNormalizer>(bool_or(value, "strip_left", at, true),
                                             bool_or(value, "strip_right", at, true));
  }
  if (type == "ByteLevel") return std::make_unique<ByteLevelNormalizer>();
  if (type == "NFC") return std::make_unique<NfcNormalizer>();
  fail_unsupported(at / "type", "normalizer type", type, "Sequence, Prepend, Replace, Strip, ByteLevel, NFC");
}

}  // namespace

std::unique_ptr<Normalizer> make_normalizer(const Json& value, const JsonAt& at) {
  if (value.is_null()) return nullptr;
  return make_one(value, at);
}

}  // namespace paramdelta::tok
