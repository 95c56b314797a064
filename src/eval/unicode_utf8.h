// UTF-8 helpers for the tokenizer: validation, decoding one character,
// encoding, Unicode White_Space, and the "lossy" conversion of arbitrary bytes
// into valid UTF-8 that Hugging Face's decoders perform (one U+FFFD per maximal
// invalid subsequence, as the Unicode standard recommends).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace paramdelta::tok {

// Offset of the first byte that does not start a well-formed UTF-8 sequence
// (overlongs, surrogates and values above U+10FFFF are ill-formed), or nullopt.
std::optional<std::size_t> find_invalid_utf8(std::string_view bytes);

// Byte length of the character starting at `lead` in valid UTF-8.
inline std::size_t utf8_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  return 4;
}

// Decodes the character at `pos` of valid UTF-8 text; sets *length to its byte length.
char32_t decode_utf8(std::string_view text, std::size_t pos, std::size_t* length);

void append_utf8(std::string& out, char32_t code_point);

// The Unicode White_Space property (what Rust's char::is_whitespace tests).
bool is_white_space(char32_t c);

// `bytes` as valid UTF-8, each maximal ill-formed subsequence replaced by U+FFFD.
std::string utf8_lossy(std::string_view bytes);

// Number of characters in valid UTF-8 text.
std::size_t utf8_count(std::string_view text);

}  // namespace paramdelta::tok
