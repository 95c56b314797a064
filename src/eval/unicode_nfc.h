// Unicode Normalization Form C, for the NFC normalizer of tokenizer.json
// (Qwen2 and others). Data in unicode_nfc_tables.cpp.
#pragma once

#include <string>
#include <string_view>

namespace paramdelta::tok {

// `text` (valid UTF-8) in NFC: canonical decomposition, canonical ordering of
// combining marks, canonical composition.
std::string nfc(std::string_view text);

}  // namespace paramdelta::tok
