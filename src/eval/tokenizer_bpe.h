// The BPE model of tokenizer.json: vocabulary, ranked merges, and the options
// of both BPE families (byte-level: ignore_merges; SentencePiece style:
// byte_fallback, unk_token, fuse_unk; plus subword prefix/suffix).
#pragma once

#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "eval/tokenizer_json.h"

namespace paramdelta::tok {

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
using Vocab = std::unordered_map<std::string, std::int32_t, StringHash, std::equal_to<>>;

class BpeModel {
 public:
  static BpeModel from_json(const Json& model, const JsonAt& at);

  BpeModel(BpeModel&& other) noexcept;
  BpeModel& operator=(BpeModel&&) = delete;
  BpeModel(const BpeModel&) = delete;

  // Appends the ids of one pre-tokenized word. Characters that are neither in
  // the vocabulary nor byte-fallback-able become unk_token (if any) or are
  // dropped, as in Hugging Face.
  void tokenize(std::string_view word, std::vector<std::int32_t>& out) const;

  std::optional<std::int32_t> token_to_id(std::string_view token) const;
  const std::string* id_to_token(std::int32_t id) const;
  std::size_t vocab_count() const { return vocab_.size(); }
  std::int32_t max_id() const { return static_cast<std::int32_t>(id_to_token_.size()) - 1; }

 private:
  BpeModel() = default;

  struct MergeInfo {
    std::uint32_t rank;
    std::int32_t new_id;
  };
  struct Symbol {
    std::int32_t id;
    std::int32_t prev;
    std::int32_t next;
    std::uint32_t length;  // bytes of the word it covers; 0 once merged into its left neighbour
  };

  std::optional<MergeInfo> find_merge(std::int32_t left, std::int32_t right) const;
  void initial_symbols(std::string_view word, std::vector<Symbol>& symbols) const;
  void merge_symbols(std::vector<Symbol>& symbols) const;
  void tokenize_uncached(std::string_view word, std::vector<std::int32_t>& out) const;

  Vocab vocab_;
  std::vector<const std::string*> id_to_token_;  // indexed by id; null for holes
  std::unordered_map<std::uint64_t, MergeInfo> merges_;
  std::optional<std::int32_t> unk_id_;
  // An unk_token that is not in the vocabulary: an error only once a character needs it, as in Hugging Face.
  std::string missing_unk_;
  JsonAt unk_at_;
  std::string continuing_subword_prefix_;
  std::string end_of_word_suffix_;
  bool fuse_unk_ = false;
  bool byte_fallback_ = false;
  bool ignore_merges_ = false;
  std::int32_t byte_ids_[256];  // <0xNN> tokens for byte_fallback, -1 where missing

  // Words seen before, and their ids: text is mostly made of a few thousand words.
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<std::int32_t>, StringHash, std::equal_to<>> cache_;
};

}  // namespace paramdelta::tok
