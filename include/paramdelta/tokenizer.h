// Tokenizers described by a Hugging Face tokenizer.json: byte-level BPE
// (GPT-2, Llama-3, Qwen2 style) and SentencePiece-style BPE (metaspace with
// byte fallback: Llama-2, Mistral style), with added and special tokens.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace paramdelta {

class Tokenizer {
 public:
  // tokenizer.json, and optionally tokenizer_config.json (add_bos_token,
  // add_eos_token, bos/eos tokens, chat_template).
  static Tokenizer from_files(
      const std::filesystem::path& tokenizer_json,
      const std::optional<std::filesystem::path>& tokenizer_config_json = std::nullopt);
  // A model directory holding tokenizer.json (and tokenizer_config.json, chat_template.jinja when present).
  static Tokenizer from_model_dir(const std::filesystem::path& dir);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // Encodes text. With add_special_tokens, adds BOS/EOS as the tokenizer's
  // post-processor / tokenizer_config.json say (as Hugging Face's encode does).
  std::vector<std::int32_t> encode(std::string_view text, bool add_special_tokens = true) const;
  std::string decode(std::span<const std::int32_t> ids, bool skip_special_tokens = false) const;

  std::optional<std::int32_t> token_to_id(std::string_view token) const;
  std::optional<std::string> id_to_token(std::int32_t id) const;
  std::optional<std::int32_t> bos_id() const;
  std::optional<std::int32_t> eos_id() const;
  std::size_t vocab_size() const;  // including added tokens
  // The chat template (Jinja text) from tokenizer_config.json or chat_template.jinja; empty if none.
  const std::string& chat_template() const;
  // The file the chat template came from (chat_template.jinja or
  // tokenizer_config.json), for error messages; empty if there is none.
  const std::string& chat_template_source() const;

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace paramdelta
