// Added tokens (special tokens like <|im_start|> and user-added words): cut
// out of the text before the model sees it, as Hugging Face's
// AddedVocabulary does: leftmost-longest matching, first against the raw text
// for tokens with normalized=false, then against the normalized text for the
// others; single_word, lstrip and rstrip honoured.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "eval/tokenizer_bpe.h"
#include "eval/tokenizer_json.h"
#include "eval/tokenizer_normalizers.h"
#include "eval/tokenizer_pieces.h"
#include "eval/tokenizer_regex.h"

namespace paramdelta::tok {

struct AddedToken {
  std::string content;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = true;
  bool special = false;
  bool operator==(const AddedToken&) const = default;
};

class AddedVocabulary {
 public:
  // `list` is tokenizer.json's "added_tokens". Ids are assigned as Hugging
  // Face assigns them on load (the vocabulary's id for a token it already has,
  // else the next free id after the model's), which is what the file's "id"
  // fields say for any file Hugging Face wrote.
  static AddedVocabulary from_json(const Json& list, const JsonAt& at, const BpeModel& model,
                                   const Normalizer* normalizer);

  // Cuts added tokens out of `text`, normalizing the stretches between them;
  // appends non-empty pieces to `out`.
  void split(std::string_view text, const Normalizer* normalizer, std::vector<Piece>& out) const;

  std::optional<std::int32_t> token_to_id(std::string_view content) const;
  const AddedToken* token_for_id(std::int32_t id) const;
  bool is_special(std::string_view content) const { return special_set_.count(std::string(content)) > 0; }
  std::int32_t max_id() const { return by_id_.empty() ? -1 : by_id_.rbegin()->first; }
  std::size_t size() const { return by_content_.size(); }

 private:
  // A byte trie for leftmost-longest matching of many patterns.
  class Trie {
   public:
    void insert(std::string_view pattern, std::int32_t id);
    bool empty() const { return terminal_.size() <= 1; }
    // The leftmost-longest match starting at or after `from`.
    bool find(std::string_view text, std::size_t from, Range* match, std::int32_t* id) const;

   private:
    std::vector<std::int32_t> terminal_{-1};                 // per node: id of the pattern ending here, or -1
    std::unordered_map<std::uint64_t, std::int32_t> edges_;  // (node << 8 | byte) -> child
    bool first_byte_[256] = {};
  };

  void add(const AddedToken& token, const BpeModel& model);
  void build_tries(const BpeModel& model, const Normalizer* normalizer);
  // Hugging Face's find_matches: splits of `piece` into added tokens and the rest.
  void split_piece(Piece&& piece, const Trie& trie, std::vector<Piece>& out) const;
  bool is_word_char_before(std::string_view text, std::size_t pos) const;
  bool is_word_char_at(std::string_view text, std::size_t pos) const;

  std::unordered_map<std::string, std::int32_t> by_content_;
  std::map<std::int32_t, AddedToken> by_id_;
  std::vector<AddedToken> classic_;   // non-special, in the order added
  std::vector<AddedToken> specials_;  // special, in the order added
  std::unordered_set<std::string> special_set_;
  Trie raw_trie_;
  Trie normalized_trie_;
  std::optional<Regex> word_char_;  // Rust regex \w, only needed for single_word tokens
};

}  // namespace paramdelta::tok
