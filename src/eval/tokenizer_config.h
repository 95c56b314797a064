// What the tokenizer takes from tokenizer_config.json (the transformers-side
// settings next to tokenizer.json): BOS/EOS tokens and whether encode adds
// them, the tokenizer class, and the chat template.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace paramdelta::tok {

struct TokenizerConfig {
  std::optional<bool> add_bos_token;
  std::optional<bool> add_eos_token;
  std::optional<std::string> bos_token;
  std::optional<std::string> eos_token;
  std::string tokenizer_class;
  std::string chat_template;  // empty if none
};

// Throws paramdelta::Error naming the file and field on malformed input.
TokenizerConfig read_tokenizer_config(const std::filesystem::path& path);

}  // namespace paramdelta::tok
