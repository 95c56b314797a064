#include "eval/tokenizer_decoders.h"

#include "eval/tokenizer_byte_level.h"
#include "eval/tokenizer_regex.h"
#include "eval/unicode_utf8.h"

namespace paramdelta::tok {

namespace {

class SequenceDecoder final : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> parts) : parts_(std::move(parts)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (const auto& part : parts_) part->decode_chain(tokens);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> parts_;
};

// Byte-level characters back to bytes, all tokens into one string. A token
// with a character outside the byte alphabet (an added token, say) is taken
// as its raw UTF-8 bytes. Invalid UTF-8 becomes U+FFFD.
class ByteLevelDecoder final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string bytes;
    std::string token_bytes;
    for (const std::string& t : tokens) {
      token_bytes.clear();
      bool all_mapped = true;
      std::size_t pos = 0;
      while (pos < t.size()) {
        std::size_t n = 0;
        const auto b = byte_level_byte(decode_utf8(t, pos, &n));
        if (!b) {
          all_mapped = false;
          break;
        }
        token_bytes.push_back(static_cast<char>(*b));
        pos += n;
      }
      bytes += all_mapped ? token_bytes : t;
    }
    tokens.assign(1, utf8_lossy(bytes));
  }
};

class ReplaceDecoder final : public Decoder {
 public:
  ReplaceDecoder(TextPattern pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<Range> matches;
    for (std::string& t : tokens) {
      matches.clear();
      pattern_.find_all(t, matches);
      if (matches.empty()) continue;
      std::string out;
      std::size_t previous = 0;
      for (const Range& m : matches) {
        out.append(t, previous, m.begin - previous);
        out += content_;
        previous = m.end;
      }
      out.append(t, previous, std::string::npos);
      t = std::move(out);
    }
  }

 private:
  TextPattern pattern_;
  std::string content_;
};

// Runs of <0xNN> tokens become the bytes they stand for: the text if the run
// is valid UTF-8, otherwise one U+FFFD per byte.
class ByteFallbackDecoder final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    out.reserve(tokens.size());
    std::string pending;
    std::size_t pending_count = 0;
    auto flush = [&] {
      if (pending_count == 0) return;
      if (!find_invalid_utf8(pending)) {
        out.push_back(pending);
      } else {
        for (std::size_t k = 0; k < pending_count; ++k) out.emplace_back("\xEF\xBF\xBD");
      }
      pending.clear();
      pending_count = 0;
    };
    for (std::string& t : tokens) {
      if (auto b = byte_token(t)) {
        pending.push_back(static_cast<char>(*b));
        ++pending_count;
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    tokens = std::move(out);
  }

 private:
  // "<0xNN>" -> NN, parsed like Rust's u8::from_str_radix(.., 16) (which takes a leading '+').
  static std::optional<unsigned> byte_token(const std::string& t) {
    if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return std::nullopt;
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    const int lo = hex(t[4]);
    if (lo < 0) return std::nullopt;
    if (t[3] == '+') return static_cast<unsigned>(lo);
    const int hi = hex(t[3]);
    if (hi < 0) return std::nullopt;
    return static_cast<unsigned>(hi * 16 + lo);
  }
};

class FuseDecoder final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string all;
    for (const std::string& t : tokens) all += t;
    tokens.assign(1, std::move(all));
  }
};

// Removes up to `start` leading and `stop` trailing `content` characters of each token.
class StripDecoder final : public Decoder {
 public:
  StripDecoder(char32_t content, std::size_t start, std::size_t stop)
      : content_(content), start_(start), stop_(stop) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (std::string& t : tokens) {
      std::vector<std::size_t> offsets;  // byte offset of each character, plus the end
      std::vector<char32_t> chars;
      std::size_t pos = 0;
      while (pos < t.size()) {
        std::size_t n = 0;
        chars.push_back(decode_utf8(t, pos, &n));
        offsets.push_back(pos);
        pos += n;
      }
      offsets.push_back(t.size());
      std::size_t begin = 0;
      while (begin < chars.size() && begin < start_ && chars[begin] == content_) ++begin;
      std::size_t end = chars.size();
      for (std::size_t k = 0; k < stop_ && end > begin && chars[end - 1] == content_; ++k) --end;
      t = t.substr(offsets[begin], offsets[end] - offsets[begin]);
    }
  }

 private:
  char32_t content_;
  std::size_t start_;
  std::size_t stop_;
};

// The replacement character becomes a space, except in the first token
// (where it was prepended) unless prepend_scheme is "never".
class MetaspaceDecoder final : public Decoder {
 public:
  MetaspaceDecoder(char32_t replacement, bool drop_in_first)
      : replacement_(replacement), drop_in_first_(drop_in_first) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      std::string& t = tokens[i];
      std::string out;
      std::size_t pos = 0;
      while (pos < t.size()) {
        std::size_t n = 0;
        const char32_t c = decode_utf8(t, pos, &n);
        if (c == replacement_) {
          if (!(i == 0 && drop_in_first_)) out.push_back(' ');
        } else {
          out.append(t, pos, n);
        }
        pos += n;
      }
      t = std::move(out);
    }
  }

 private:
  char32_t replacement_;
  bool drop_in_first_;
};

std::unique_ptr<Decoder> make_one(const Json& value, const JsonAt& at) {
  const std::string type = component_type(value, at);
  if (type == "Sequence") {
    const JsonAt list_at = at / "decoders";
    const Json& list = member(value, "decoders", at);
    if (!list.is_array()) fail(list_at, "expected an array");
    std::vector<std::unique_ptr<Decoder>> parts;
    for (std::size_t i = 0; i < list.size(); ++i) {
      if (list[i].is_null()) fail(list_at[i], "expected a decoder, found null");
      parts.push_back(make_one(list[i], list_at[i]));
    }
    return std::make_unique<SequenceDecoder>(std::move(parts));
  }
  if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
  if (type == "Replace") {
    return std::make_unique<ReplaceDecoder>(
        TextPattern::from_json(member(value, "pattern", at), at / "pattern"),
        as_string(member(value, "content", at), at / "content"));
  }
  if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
  if (type == "Fuse") return std::make_unique<FuseDecoder>();
  if (type == "Strip") {
    const char32_t content = as_single_char(member(value, "content", at), at / "content");
    const auto start =
        static_cast<std::size_t>(as_integer(member(value, "start", at), at / "start", 0, 1 << 20));
    const auto stop =
        static_cast<std::size_t>(as_integer(member(value, "stop", at), at / "stop", 0, 1 << 20));
    return std::make_unique<StripDecoder>(content, start, stop);
  }
  if (type == "Metaspace") {
    const char32_t replacement = as_single_char(member(value, "replacement", at), at / "replacement");
    bool prepend = bool_or(value, "add_prefix_space", at, true);
    if (const Json* scheme = optional_member(value, "prepend_scheme")) {
      prepend = as_string(*scheme, at / "prepend_scheme") != "never";
    }
    return std::make_unique<MetaspaceDecoder>(replacement, prepend);
  }
  fail_unsupported(at / "type", "decoder type", type,
                   "Sequence, ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace");
}

}  // namespace

std::unique_ptr<Decoder> make_decoder(const Json& value, const JsonAt& at) {
  if (value.is_null()) return nullptr;
  return make_one(value, at);
}

std::string run_decoder(const Decoder* decoder, std::vector<std::string> tokens) {
  std::string out;
  if (!decoder) {
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      if (i) out.push_back(' ');
      out += tokens[i];
    }
    return out;
  }
  decoder->decode_chain(tokens);
  for (const std::string& t : tokens) out += t;
  return out;
}

}  // namespace paramdelta::tok
