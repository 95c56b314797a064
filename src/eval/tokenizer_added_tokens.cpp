#include "eval/tokenizer_added_tokens.h"

#include "eval/unicode_utf8.h"

namespace paramdelta::tok {

namespace {

constexpr std::size_t kMaxAddedTokens = std::size_t{1} << 20;

// Start of the run of white space that ends `text` (Rust regex \s*$).
std::size_t trailing_space_start(std::string_view text) {
  std::size_t end = text.size();
  while (end > 0) {
    std::size_t start = end - 1;
    while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
    std::size_t n = 0;
    if (!is_white_space(decode_utf8(text, start, &n))) break;
    end = start;
  }
  return end;
}

// Length of the run of white space that starts `text` (Rust regex ^\s*).
std::size_t leading_space_length(std::string_view text) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t n = 0;
    if (!is_white_space(decode_utf8(text, pos, &n))) break;
    pos += n;
  }
  return pos;
}

}  // namespace

void AddedVocabulary::Trie::insert(std::string_view pattern, std::int32_t id) {
  std::int32_t node = 0;
  for (char ch : pattern) {
    const std::uint64_t key = (static_cast<std::uint64_t>(node) << 8) | static_cast<unsigned char>(ch);
    auto it = edges_.find(key);
    if (it == edges_.end()) {
      const auto child = static_cast<std::int32_t>(terminal_.size());
      terminal_.push_back(-1);
      it = edges_.emplace(key, child).first;
    }
    node = it->second;
  }
  // Several patterns with the same text: the first one inserted wins.
  if (terminal_[node] < 0) terminal_[node] = id;
  first_byte_[static_cast<unsigned char>(pattern.front())] = true;
}

bool AddedVocabulary::Trie::find(std::string_view text, std::size_t from, Range* match,
                                 std::int32_t* id) const {
  if (empty()) return false;
  for (std::size_t start = from; start < text.size(); ++start) {
    if (!first_byte_[static_cast<unsigned char>(text[start])]) continue;
    std::int32_t node = 0;
    std::size_t best_end = 0;
    std::int32_t best_id = -1;
    for (std::size_t pos = start; pos < text.size(); ++pos) {
      const std::uint64_t key =
          (static_cast<std::uint64_t>(node) << 8) | static_cast<unsigned char>(text[pos]);
      auto it = edges_.find(key);
      if (it == edges_.end()) break;
      node = it->second;
      if (terminal_[node] >= 0) {
        best_end = pos + 1;
        best_id = terminal_[node];
      }
    }
    if (best_id >= 0) {
      *match = Range{start, best_end};
      *id = best_id;
      return true;
    }
  }
  return false;
}

AddedVocabulary AddedVocabulary::from_json(const Json& list, const JsonAt& at, const BpeModel& model,
                                           const Normalizer* normalizer) {
  AddedVocabulary vocab;
  if (!list.is_null()) {
    if (!list.is_array()) fail(at, "expected an array of added tokens");
    if (list.size() > kMaxAddedTokens) fail(at, "too many added tokens");
    for (std::size_t i = 0; i < list.size(); ++i) {
      const JsonAt t_at = at[i];
      const Json& t = list[i];
      require_object(t, t_at);
      as_token_id(member(t, "id", t_at),
                  t_at / "id");  // validated; the id is recomputed as Hugging Face does
      AddedToken token;
      token.content = as_token(member(t, "content", t_at), t_at / "content", /*allow_empty=*/true);
      token.special = bool_or(t, "special", t_at, false);
      token.single_word = bool_or(t, "single_word", t_at, false);
      token.lstrip = bool_or(t, "lstrip", t_at, false);
      token.rstrip = bool_or(t, "rstrip", t_at, false);
      token.normalized = bool_or(t, "normalized", t_at, !token.special);
      vocab.add(token, model);
    }
  }
  vocab.build_tries(model, normalizer);
  return vocab;
}

void AddedVocabulary::add(const AddedToken& token, const BpeModel& model) {
  if (token.special && !token.content.empty() && special_set_.insert(token.content).second) {
    specials_.push_back(token);
  }
  if (token.content.empty()) return;
  for (const auto& [id, existing] : by_id_) {
    if (existing == token) return;
  }
  std::int32_t new_id = 0;
  if (auto known = token_to_id(token.content)) {
    new_id = *known;
  } else if (auto in_model = model.token_to_id(token.content)) {
    new_id = *in_model;
  } else {
    const auto model_size = static_cast<std::int32_t>(model.vocab_count());
    if (by_id_.empty()) {
      new_id = model_size;
    } else {
      const std::int32_t max = max_id();
      new_id = (max >= model_size || model_size == 0) ? max + 1 : model_size;
    }
    if (new_id > kMaxTokenId) fail(JsonAt{}, "too many tokens");
  }
  by_content_[token.content] = new_id;
  by_id_[new_id] = token;
  if (!special_set_.count(token.content)) classic_.push_back(token);
}

void AddedVocabulary::build_tries(const BpeModel& model, const Normalizer* normalizer) {
  bool any_single_word = false;
  auto add_to_tries = [&](const AddedToken& token) {
    auto id = token_to_id(token.content);
    if (!id) id = model.token_to_id(token.content);
    if (!id) return;
    if (const AddedToken* flags = token_for_id(*id)) any_single_word = any_single_word || flags->single_word;
    if (!token.normalized) {
      raw_trie_.insert(token.content, *id);
      return;
    }
    Piece piece{token.content, -1, 0};
    std::size_t n = 0;
    decode_utf8(piece.text, 0, &n);
    piece.origin_bytes = n;
    if (normalizer) normalizer->normalize(piece);
    if (!piece.text.empty()) normalized_trie_.insert(piece.text, *id);
  };
  for (const AddedToken& t : specials_) add_to_tries(t);
  for (const AddedToken& t : classic_) add_to_tries(t);
  if (any_single_word) {
    // Rust regex's \w, which Hugging Face uses for single_word.
    word_char_.emplace(R"([\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}])",
                       JsonAt{"(built-in word pattern)", {}});
  }
}

std::optional<std::int32_t> AddedVocabulary::token_to_id(std::string_view content) const {
  auto it = by_content_.find(std::string(content));
  if (it == by_content_.end()) return std::nullopt;
  return it->second;
}

const AddedToken* AddedVocabulary::token_for_id(std::int32_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &it->second;
}

bool AddedVocabulary::is_word_char_before(std::string_view text, std::size_t pos) const {
  if (pos == 0) return false;
  std::size_t start = pos - 1;
  while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
  return is_word_char_at(text.substr(0, pos), start);
}

bool AddedVocabulary::is_word_char_at(std::string_view text, std::size_t pos) const {
  if (pos >= text.size()) return false;
  const std::string_view ch = text.substr(pos, utf8_length(static_cast<unsigned char>(text[pos])));
  std::vector<Range> found;
  word_char_->find_all(ch, found);
  return !found.empty();
}

void AddedVocabulary::split_piece(Piece&& piece, const Trie& trie, std::vector<Piece>& out) const {
  const std::string_view text = piece.text;
  if (text.empty()) return;
  std::vector<Piece> result;
  std::size_t start_offset = 0;
  std::size_t search_from = 0;
  bool found_any = false;
  Range m;
  std::int32_t id = -1;
  while (search_from < text.size() && trie.find(text, search_from, &m, &id)) {
    search_from = m.end;  // matching resumes after the match itself, whatever is stripped
    const AddedToken& token = *token_for_id(id);
    std::size_t start = m.begin;
    std::size_t stop = m.end;
    if (token.single_word) {
      const bool space_before = start == 0 || !is_word_char_before(text, start);
      const bool space_after = stop == text.size() || !is_word_char_at(text, stop);
      if (!space_before || !space_after) continue;
    }
    if (token.lstrip) start = std::max(trailing_space_start(text.substr(0, start)), start_offset);
    if (token.rstrip) stop += leading_space_length(text.substr(stop));
    if (start_offset < start) result.push_back(piece.slice(start_offset, start));
    Piece added;
    added.added_id = id;
    added.text.assign(text.substr(start, stop - start));
    result.push_back(std::move(added));
    start_offset = stop;
    found_any = true;
  }
  if (!found_any) {
    out.push_back(std::move(piece));
    return;
  }
  if (start_offset < text.size()) result.push_back(piece.slice(start_offset, text.size()));
  for (Piece& p : result) out.push_back(std::move(p));
}

void AddedVocabulary::split(std::string_view text, const Normalizer* normalizer,
                            std::vector<Piece>& out) const {
  if (text.empty()) return;
  Piece whole;
  whole.text.assign(text);
  std::size_t n = 0;
  decode_utf8(whole.text, 0, &n);
  whole.origin_bytes = n;

  std::vector<Piece> raw;
  split_piece(std::move(whole), raw_trie_, raw);
  for (Piece& p : raw) {
    if (p.is_added()) {
      out.push_back(std::move(p));
      continue;
    }
    if (normalizer) normalizer->normalize(p);
    if (p.text.empty()) continue;
    split_piece(std::move(p), normalized_trie_, out);
  }
}

}  // namespace paramdelta::tok
