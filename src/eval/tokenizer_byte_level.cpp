#include "eval/tokenizer_byte_level.h"

#include <array>

#include "eval/unicode_utf8.h"

namespace paramdelta::tok {

namespace {

struct Tables {
  std::array<std::string, 256> to_char;
  std::array<char32_t, 256> code_point{};

  Tables() {
    auto printable = [](int b) {
      return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    };
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      code_point[b] = printable(b) ? static_cast<char32_t>(b) : next++;
      append_utf8(to_char[b], code_point[b]);
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

const std::string& byte_level_char(std::uint8_t b) { return tables().to_char[b]; }

std::optional<std::uint8_t> byte_level_byte(char32_t c) {
  // Printable bytes map to themselves; the others to U+0100..U+0143 in byte order.
  if (c < 256) {
    const auto b = static_cast<std::uint8_t>(c);
    if (tables().code_point[b] == c) return b;
    return std::nullopt;
  }
  if (c >= 256 + 68) return std::nullopt;
  const Tables& t = tables();
  for (int b = 0; b < 256; ++b) {
    if (t.code_point[b] == c) return static_cast<std::uint8_t>(b);
  }
  return std::nullopt;
}

std::string byte_level_encode(std::string_view bytes) {
  const Tables& t = tables();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char ch : bytes) out += t.to_char[static_cast<unsigned char>(ch)];
  return out;
}

}  // namespace paramdelta::tok
