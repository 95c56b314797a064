#include "eval/tokenizer_bpe.h"

#include <cstdio>
#include <queue>

#include "eval/unicode_utf8.h"

namespace paramdelta::tok {

namespace {

constexpr std::size_t kCacheMaxWordBytes = 256;
constexpr std::size_t kCacheMaxEntries = 200'000;

std::uint64_t pair_key(std::int32_t left, std::int32_t right) {
  return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(left)) << 32) |
         static_cast<std::uint32_t>(right);
}

// A candidate merge in the queue: lowest rank first, then leftmost.
struct Candidate {
  std::uint32_t rank;
  std::int32_t pos;
  std::int32_t new_id;
  bool operator<(const Candidate& other) const {  // "less urgent than"
    if (rank != other.rank) return rank > other.rank;
    return pos > other.pos;
  }
};

}  // namespace

BpeModel::BpeModel(BpeModel&& other) noexcept
    : vocab_(std::move(other.vocab_)),
      id_to_token_(std::move(other.id_to_token_)),
      merges_(std::move(other.merges_)),
      unk_id_(other.unk_id_),
      missing_unk_(std::move(other.missing_unk_)),
      unk_at_(std::move(other.unk_at_)),
      continuing_subword_prefix_(std::move(other.continuing_subword_prefix_)),
      end_of_word_suffix_(std::move(other.end_of_word_suffix_)),
      fuse_unk_(other.fuse_unk_),
      byte_fallback_(other.byte_fallback_),
      ignore_merges_(other.ignore_merges_) {
  std::copy(std::begin(other.byte_ids_), std::end(other.byte_ids_), std::begin(byte_ids_));
}

BpeModel BpeModel::from_json(const Json& model, const JsonAt& at) {
  require_object(model, at);
  BpeModel bpe;

  if (const Json* dropout = optional_member(model, "dropout")) {
    const double p = as_number(*dropout, at / "dropout");
    // Dropout makes encoding random; models are evaluated without it.
    if (p != 0.0)
      fail(at / "dropout", "BPE dropout " + std::to_string(p) + " is not supported", "set it to null");
  }
  bpe.continuing_subword_prefix_ = string_or(model, "continuing_subword_prefix", at, "");
  bpe.end_of_word_suffix_ = string_or(model, "end_of_word_suffix", at, "");
  bpe.fuse_unk_ = bool_or(model, "fuse_unk", at, false);
  bpe.byte_fallback_ = bool_or(model, "byte_fallback", at, false);
  bpe.ignore_merges_ = bool_or(model, "ignore_merges", at, false);

  // Vocabulary.
  const JsonAt vocab_at = at / "vocab";
  const Json& vocab = member(model, "vocab", at);
  if (!vocab.is_object()) fail(vocab_at, "expected an object mapping tokens to ids");
  if (vocab.size() > kMaxVocabEntries) {
    fail(vocab_at, "vocabulary of " + std::to_string(vocab.size()) + " entries is larger than the " +
                       std::to_string(kMaxVocabEntries) + " allowed");
  }
  bpe.vocab_.reserve(vocab.size());
  std::int32_t max_id = -1;
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    const JsonAt entry_at = vocab_at / it.key();
    if (it.key().size() > kMaxTokenBytes) fail(entry_at, "token string is too long");
    const std::int32_t id = as_token_id(it.value(), entry_at);
    bpe.vocab_.emplace(it.key(), id);
    max_id = std::max(max_id, id);
  }
  // Real vocabularies are dense; a huge id in a small vocabulary is a broken or hostile file.
  if (max_id >= 0 && static_cast<std::size_t>(max_id) >= 2 * bpe.vocab_.size() + 1024) {
    fail(vocab_at, "id " + std::to_string(max_id) + " is far beyond the " +
                       std::to_string(bpe.vocab_.size()) + " entries of the vocabulary");
  }
  bpe.id_to_token_.assign(static_cast<std::size_t>(max_id + 1), nullptr);
  for (const auto& [token, id] : bpe.vocab_) {
    if (bpe.id_to_token_[id] != nullptr) {
      fail(vocab_at,
           "tokens '" + *bpe.id_to_token_[id] + "' and '" + token + "' share id " + std::to_string(id),
           "each id must name one token");
    }
    bpe.id_to_token_[id] = &token;
  }

  // Unknown token and byte fallback tokens.
  if (const Json* unk = optional_member(model, "unk_token")) {
    const std::string name = as_token(*unk, at / "unk_token");
    auto it = bpe.vocab_.find(name);
    if (it != bpe.vocab_.end()) {
      bpe.unk_id_ = it->second;
    } else {
      bpe.missing_unk_ = name;
      bpe.unk_at_ = at / "unk_token";
    }
  }
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    auto it = bpe.vocab_.find(std::string_view(name));
    bpe.byte_ids_[b] = it == bpe.vocab_.end() ? -1 : it->second;
  }

  // Merges: ["a b", ...] (older files) or [["a", "b"], ...]; rank = position.
  const JsonAt merges_at = at / "merges";
  const Json* merges = optional_member(model, "merges");
  if (merges) {
    if (!merges->is_array()) fail(merges_at, "expected an array of merges");
    if (merges->size() > kMaxMerges) fail(merges_at, "too many merges");
    bpe.merges_.reserve(merges->size());
    std::uint32_t rank = 0;
    for (std::size_t i = 0; i < merges->size(); ++i) {
      const Json& m = (*merges)[i];
      const JsonAt m_at = merges_at[i];
      std::string left, right;
      if (m.is_string()) {
        const std::string line = m.get<std::string>();
        if (line.rfind("#version", 0) == 0) continue;
        const auto space = line.find(' ');
        if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos) {
          fail(m_at, "a merge must be two tokens separated by one space");
        }
        left = line.substr(0, space);
        right = line.substr(space + 1);
      } else if (m.is_array() && m.size() == 2) {
        left = as_string(m[0], m_at[0]);
        right = as_string(m[1], m_at[1]);
      } else {
        fail(m_at, "a merge must be \"a b\" or [\"a\", \"b\"]");
      }
      auto find = [&](const std::string& token) {
        auto it = bpe.vocab_.find(token);
        if (it == bpe.vocab_.end()) fail(m_at, "merge token '" + token + "' is not in the vocabulary");
        return it->second;
      };
      const std::int32_t left_id = find(left);
      const std::int32_t right_id = find(right);
      const std::size_t prefix = bpe.continuing_subword_prefix_.size();
      if (prefix > 0 && right.compare(0, prefix, bpe.continuing_subword_prefix_) != 0) {
        fail(m_at, "merge token '" + right + "' lacks the continuing_subword_prefix");
      }
      const std::int32_t new_id = find(left + right.substr(prefix));
      // A repeated pair keeps its last rank, as in Hugging Face.
      bpe.merges_[pair_key(left_id, right_id)] = MergeInfo{rank, new_id};
      ++rank;
    }
  }
  return bpe;
}

std::optional<std::int32_t> BpeModel::token_to_id(std::string_view token) const {
  auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::id_to_token(std::int32_t id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= id_to_token_.size()) return nullptr;
  return id_to_token_[id];
}

std::optional<BpeModel::MergeInfo> BpeModel::find_merge(std::int32_t left, std::int32_t right) const {
  auto it = merges_.find(pair_key(left, right));
  if (it == merges_.end()) return std::nullopt;
  return it->second;
}

// One symbol per character (with prefix/suffix), or its <0xNN> byte tokens,
// or unk (fused across consecutive unknown characters with fuse_unk).
void BpeModel::initial_symbols(std::string_view word, std::vector<Symbol>& symbols) const {
  // A run of unknown characters waiting to become one unk symbol (or several without fuse_unk).
  bool unk_pending = false;
  std::uint32_t unk_length = 0;
  auto add = [&symbols](std::int32_t id, std::uint32_t length) {
    symbols.push_back(Symbol{id, static_cast<std::int32_t>(symbols.size()) - 1,
                             static_cast<std::int32_t>(symbols.size()) + 1, length});
  };
  std::string lookup;
  lookup.reserve(continuing_subword_prefix_.size() + end_of_word_suffix_.size() + 4);
  std::size_t pos = 0;
  while (pos < word.size()) {
    const std::size_t length = utf8_length(static_cast<unsigned char>(word[pos]));
    const std::string_view ch = word.substr(pos, length);
    const bool first = pos == 0;
    const bool last = pos + length >= word.size();
    pos += length;
    std::string_view key = ch;
    if ((!first && !continuing_subword_prefix_.empty()) || (last && !end_of_word_suffix_.empty())) {
      lookup.assign(first ? std::string_view() : std::string_view(continuing_subword_prefix_));
      lookup.append(ch.data(), ch.size());
      if (last) lookup.append(end_of_word_suffix_.data(), end_of_word_suffix_.size());
      key = lookup;
    }
    if (auto it = vocab_.find(key); it != vocab_.end()) {
      if (unk_pending) {
        add(*unk_id_, unk_length);
        unk_pending = false;
      }
      add(it->second, static_cast<std::uint32_t>(length));
      continue;
    }
    if (byte_fallback_) {
      bool all = true;
      for (char b : key) all = all && byte_ids_[static_cast<unsigned char>(b)] >= 0;
      if (all) {
        // Like Hugging Face, a pending unk is not flushed here: it lands after these bytes.
        for (char b : key) add(byte_ids_[static_cast<unsigned char>(b)], 1);
        continue;
      }
    }
    if (!missing_unk_.empty()) {
      fail(unk_at_, "the text has a character outside the vocabulary, and unk_token '" + missing_unk_ +
                        "' is not in the vocabulary either");
    }
    if (unk_id_) {
      if (unk_pending && fuse_unk_) {
        unk_length += static_cast<std::uint32_t>(length);
      } else {
        if (unk_pending) add(*unk_id_, unk_length);
        unk_pending = true;
        unk_length = static_cast<std::uint32_t>(length);
      }
    }
  }
  if (unk_pending) add(*unk_id_, unk_length);
  if (!symbols.empty()) symbols.back().next = -1;
}

// Applies merges lowest rank first (leftmost among equals) with a priority
// queue over a linked list of symbols: O(n log n) per word.
void BpeModel::merge_symbols(std::vector<Symbol>& symbols) const {
  std::priority_queue<Candidate> queue;
  for (std::size_t i = 0; i + 1 < symbols.size(); ++i) {
    if (auto m = find_merge(symbols[i].id, symbols[i + 1].id)) {
      queue.push(Candidate{m->rank, static_cast<std::int32_t>(i), m->new_id});
    }
  }
  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = symbols[top.pos];
    if (left.length == 0 || left.next < 0) continue;
    const std::int32_t right_pos = left.next;
    Symbol& right = symbols[right_pos];
    // Stale entry: the pair at this position changed since it was queued.
    auto current = find_merge(left.id, right.id);
    if (!current || current->new_id != top.new_id) continue;

    left.id = top.new_id;
    left.length += right.length;
    left.next = right.next;
    right.length = 0;
    if (left.next >= 0) symbols[left.next].prev = top.pos;

    if (left.prev >= 0) {
      if (auto m = find_merge(symbols[left.prev].id, left.id))
        queue.push(Candidate{m->rank, left.prev, m->new_id});
    }
    if (left.next >= 0) {
      if (auto m = find_merge(left.id, symbols[left.next].id))
        queue.push(Candidate{m->rank, top.pos, m->new_id});
    }
  }
}

void BpeModel::tokenize_uncached(std::string_view word, std::vector<std::int32_t>& out) const {
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  initial_symbols(word, symbols);
  merge_symbols(symbols);
  for (const Symbol& s : symbols) {
    if (s.length != 0) out.push_back(s.id);
  }
}

void BpeModel::tokenize(std::string_view word, std::vector<std::int32_t>& out) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    if (auto it = vocab_.find(word); it != vocab_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  const bool cacheable = word.size() <= kCacheMaxWordBytes;
  if (cacheable) {
    std::lock_guard lock(cache_mutex_);
    if (auto it = cache_.find(word); it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const std::size_t first = out.size();
  tokenize_uncached(word, out);
  if (cacheable) {
    std::lock_guard lock(cache_mutex_);
    if (cache_.size() >= kCacheMaxEntries) cache_.clear();
    cache_.emplace(std::string(word), std::vector<std::int32_t>(out.begin() + first, out.end()));
  }
}

}  // namespace paramdelta::tok
