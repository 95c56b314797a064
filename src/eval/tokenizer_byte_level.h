// The byte-level alphabet of GPT-2 style tokenizers: each of the 256 byte
// values is shown as one printable character (printable Latin-1 bytes as
// themselves, the others as U+0100 onwards), so that any byte string is a
// string of "characters" the BPE model can merge.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace paramdelta::tok {

// The UTF-8 text standing for byte `b`.
const std::string& byte_level_char(std::uint8_t b);
// The byte a character stands for, or nullopt if it is not in the alphabet.
std::optional<std::uint8_t> byte_level_byte(char32_t c);
// Maps every byte of `bytes` to its character.
std::string byte_level_encode(std::string_view bytes);

}  // namespace paramdelta::tok
