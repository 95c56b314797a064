// The decoder forward pass: embedding, then per layer
//   x += o_proj(attention(rope(q), rope(k), v))   on rms_norm(x)
//   x += down_proj(silu(gate_proj(h)) * up_proj(h)) on h = rms_norm(x)
// then a final rms_norm and the output projection.
#include "paramdelta/model.h"

#include <algorithm>

#include "eval/invariant_matmul.h"
#include "eval/kernels.h"
#include "eval/model_weights.h"
#include "paramdelta/error.h"
#include "paramdelta/location.h"

namespace paramdelta {

using eval::LayerWeights;

namespace eval {

struct KvCacheStorage {
  std::size_t size = 0;
  std::size_t capacity = 0;
  std::size_t kv_dim = 0;
  std::vector<std::vector<float>> keys;    // per layer, [positions allocated][kv_dim]
  std::vector<std::vector<float>> values;  // per layer, [positions allocated][kv_dim]
};

}  // namespace eval

namespace {

// Rows of the activation matrix that continue one sequence: `rows` tokens at
// the positions following those already in `cache`.
struct Segment {
  eval::KvCacheStorage* cache;
  std::size_t rows;
};

}  // namespace

struct Model::Impl {
  std::filesystem::path path;
  ModelConfig config;
  std::vector<std::string> notes;
  eval::ModelWeights weights;
  std::vector<double> inv_freq;

  void run_layers(std::vector<float>& x, std::span<const Segment> segments, bool invariant) const;
  // The cache's storage (Model reaches it as KvCache's friend), with room for `tokens` more.
  eval::KvCacheStorage& make_room(const std::unique_ptr<eval::KvCacheStorage>& storage,
                                  std::size_t tokens) const;
  void check_tokens(std::span<const std::int32_t> ids) const;
  void embed(std::span<const std::int32_t> ids, std::vector<float>& x) const;
};

namespace {

// A prompt is pushed through the network in chunks of this many tokens, so
// that activations stay bounded for long windows; with the KV cache the
// result is the same as one pass over all tokens.
constexpr std::size_t kChunkTokens = 512;

void add_bias(float* rows, std::size_t count, const std::vector<float>& bias) {
  if (bias.empty()) return;
  const std::size_t dim = bias.size();
  for (std::size_t r = 0; r < count; ++r) {
    float* row = rows + r * dim;
    for (std::size_t i = 0; i < dim; ++i) row[i] += bias[i];
  }
}

}  // namespace

KvCache::KvCache() = default;
KvCache::KvCache(const KvCache& other)
    : storage_(other.storage_ ? std::make_unique<eval::KvCacheStorage>(*other.storage_) : nullptr) {}
KvCache::KvCache(KvCache&&) noexcept = default;
KvCache& KvCache::operator=(const KvCache& other) {
  if (this != &other)
    storage_ = other.storage_ ? std::make_unique<eval::KvCacheStorage>(*other.storage_) : nullptr;
  return *this;
}
KvCache& KvCache::operator=(KvCache&&) noexcept = default;
KvCache::~KvCache() = default;

std::size_t KvCache::size() const { return storage_ ? storage_->size : 0; }
std::size_t KvCache::capacity() const { return storage_ ? storage_->capacity : 0; }
void KvCache::truncate(std::size_t new_size) {
  if (storage_) storage_->size = std::min(storage_->size, new_size);
}

namespace {
// Makes room for `positions` positions in every layer, growing geometrically
// (up to the capacity) so that token-by-token decoding reallocates rarely.
void reserve_cache(std::vector<std::vector<float>>& layers, std::size_t positions, std::size_t capacity,
                   std::size_t kv_dim) {
  for (std::vector<float>& layer : layers) {
    if (layer.size() >= positions * kv_dim) continue;
    const std::size_t grown = std::min(capacity, std::max(positions, 2 * layer.size() / kv_dim + 16));
    layer.resize(grown * kv_dim);
  }
}
}  // namespace

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

Model Model::load(const std::filesystem::path& given) {
  // A Hub id or an object store location is found (or fetched) first.
  const std::filesystem::path path = resolve_location(given.string()).path;
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->weights = eval::load_model_weights(path, impl->config, impl->notes);
  impl->inv_freq = rope_inverse_frequencies(impl->config);
  return Model(std::move(impl));
}

const ModelConfig& Model::config() const { return impl_->config; }
const std::filesystem::path& Model::path() const { return impl_->path; }
const std::vector<std::string>& Model::notes() const { return impl_->notes; }

KvCache Model::new_cache(std::size_t capacity) const {
  const ModelConfig& c = impl_->config;
  if (capacity == 0) throw Error(ErrorKind::kUsage, "a key/value cache needs room for at least one token");
  KvCache cache;
  cache.storage_ = std::make_unique<eval::KvCacheStorage>();
  eval::KvCacheStorage& storage = *cache.storage_;
  storage.capacity = capacity;
  storage.kv_dim = static_cast<std::size_t>(c.kv_dim());
  storage.keys.resize(static_cast<std::size_t>(c.num_hidden_layers));
  storage.values.resize(static_cast<std::size_t>(c.num_hidden_layers));
  // Storage grows with use (see reserve_cache): a generous capacity costs nothing until filled.
  return cache;
}

// Every decoder layer over the rows of `x` ([rows][hidden], rows = sum of the
// segments' rows), each segment attending to (and extending) its own cache.
// The weight products go through the BLAS for prompts and through the
// batch-invariant product for decoding steps (`invariant`).
void Model::Impl::run_layers(std::vector<float>& x, std::span<const Segment> segments, bool invariant) const {
  const ModelConfig& c = config;
  const eval::ModelWeights& w = weights;
  const std::size_t hidden = static_cast<std::size_t>(c.hidden_size);
  const std::size_t q_dim = static_cast<std::size_t>(c.q_dim());
  const std::size_t kv_dim = static_cast<std::size_t>(c.kv_dim());
  const std::size_t qkv_dim = q_dim + 2 * kv_dim;
  const std::size_t inter = static_cast<std::size_t>(c.intermediate_size);
  const std::size_t heads = static_cast<std::size_t>(c.num_attention_heads);
  const std::size_t kv_heads = static_cast<std::size_t>(c.num_key_value_heads);
  const std::size_t head_dim = static_cast<std::size_t>(c.head_dim);
  const std::size_t rows = x.size() / hidden;

  std::vector<std::size_t> positions;
  positions.reserve(rows);
  for (const Segment& segment : segments) {
    for (std::size_t r = 0; r < segment.rows; ++r) positions.push_back(segment.cache->size + r);
  }
  const eval::RopeTable rope = eval::rope_table(inv_freq, positions);
  std::vector<float> normed(rows * hidden), qkv(rows * qkv_dim), q(rows * q_dim), attended(rows * q_dim),
      gate_up(rows * 2 * inter), activated(rows * inter);
  std::optional<std::size_t> window;
  if (c.sliding_window) window = static_cast<std::size_t>(*c.sliding_window);
  auto project = [&](float* out, std::size_t out_dim, const float* in, std::size_t in_dim,
                     const std::vector<float>& weight, const std::vector<float>& bias, bool accumulate) {
    if (invariant) {
      eval::matmul_bt_invariant(in, in_dim, weight.data(), in_dim, out, out_dim, rows, out_dim, in_dim,
                                accumulate);
    } else {
      eval::matmul_bt(in, in_dim, weight.data(), in_dim, out, out_dim, rows, out_dim, in_dim, accumulate);
    }
    add_bias(out, rows, bias);
  };

  for (std::size_t l = 0; l < w.layers.size(); ++l) {
    const LayerWeights& layer = w.layers[l];
    eval::rms_norm(x.data(), layer.input_norm.data(), normed.data(), rows, hidden, c.rms_norm_eps);
    project(qkv.data(), qkv_dim, normed.data(), hidden, layer.qkv, layer.qkv_bias, false);
    eval::apply_rope(qkv.data(), rows, qkv_dim, heads, head_dim, rope);             // queries
    eval::apply_rope(qkv.data() + q_dim, rows, qkv_dim, kv_heads, head_dim, rope);  // keys
    std::size_t first_row = 0;
    for (const Segment& segment : segments) {
      const std::size_t start = segment.cache->size;
      float* keys = segment.cache->keys[l].data();
      float* values = segment.cache->values[l].data();
      for (std::size_t r = 0; r < segment.rows; ++r) {
        const float* row = qkv.data() + (first_row + r) * qkv_dim;
        std::copy(row, row + q_dim, q.data() + (first_row + r) * q_dim);
        std::copy(row + q_dim, row + q_dim + kv_dim, keys + (start + r) * kv_dim);
        std::copy(row + q_dim + kv_dim, row + qkv_dim, values + (start + r) * kv_dim);
      }
      eval::attention(q.data() + first_row * q_dim, keys, values, attended.data() + first_row * q_dim,
                      segment.rows, start, heads, kv_heads, head_dim, window);
      first_row += segment.rows;
    }
    project(x.data(), hidden, attended.data(), q_dim, layer.output, layer.output_bias, true);

    eval::rms_norm(x.data(), layer.post_norm.data(), normed.data(), rows, hidden, c.rms_norm_eps);
    project(gate_up.data(), 2 * inter, normed.data(), hidden, layer.gate_up, layer.gate_up_bias, false);
    eval::silu_gate(gate_up.data(), activated.data(), rows, inter);
    project(x.data(), hidden, activated.data(), inter, layer.down, layer.down_bias, true);
  }
  for (const Segment& segment : segments) segment.cache->size += segment.rows;
}

void Model::Impl::check_tokens(std::span<const std::int32_t> ids) const {
  const ModelConfig& c = config;
  for (std::int32_t id : ids) {
    if (id < 0 || id >= c.vocab_size) {
      throw Error(ErrorKind::kInvalidInput,
                  "token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                      std::to_string(c.vocab_size) + ")",
                  ErrorContext{path.string(), {}, {}}, "the tokenizer does not belong to this model");
    }
  }
}

eval::KvCacheStorage& Model::Impl::make_room(const std::unique_ptr<eval::KvCacheStorage>& storage,
                                             std::size_t tokens) const {
  const std::size_t kv_dim = static_cast<std::size_t>(config.kv_dim());
  if (!storage) {
    throw Error(ErrorKind::kUsage, "the key/value cache is empty (default-constructed or moved from)",
                ErrorContext{}, "make it with Model::new_cache");
  }
  eval::KvCacheStorage& s = *storage;
  if (s.kv_dim != kv_dim || s.keys.size() != weights.layers.size()) {
    throw Error(ErrorKind::kInternal, "key/value cache was made for another model");
  }
  if (s.size + tokens > s.capacity) {
    throw Error(ErrorKind::kUsage, "context full: " + std::to_string(s.size) + " + " +
                                       std::to_string(tokens) + " tokens exceed the cache's " +
                                       std::to_string(s.capacity));
  }
  reserve_cache(s.keys, s.size + tokens, s.capacity, kv_dim);
  reserve_cache(s.values, s.size + tokens, s.capacity, kv_dim);
  return s;
}

void Model::Impl::embed(std::span<const std::int32_t> ids, std::vector<float>& x) const {
  const std::size_t hidden = static_cast<std::size_t>(config.hidden_size);
  x.resize(ids.size() * hidden);
  for (std::size_t r = 0; r < ids.size(); ++r) {
    const float* e = weights.embedding.data() + static_cast<std::size_t>(ids[r]) * hidden;
    std::copy(e, e + hidden, x.data() + r * hidden);
  }
}

std::vector<float> Model::forward_hidden(KvCache& cache, std::span<const std::int32_t> ids,
                                         std::size_t keep_rows) const {
  const ModelConfig& c = impl_->config;
  const std::size_t hidden = static_cast<std::size_t>(c.hidden_size);
  if (keep_rows > ids.size()) {
    throw Error(ErrorKind::kInternal, "asked for " + std::to_string(keep_rows) + " output rows of " +
                                          std::to_string(ids.size()) + " tokens");
  }
  eval::KvCacheStorage& storage = impl_->make_room(cache.storage_, ids.size());
  impl_->check_tokens(ids);

  std::vector<float> kept(keep_rows * hidden);
  const std::size_t first_kept = ids.size() - keep_rows;
  std::vector<float> x;
  for (std::size_t chunk_begin = 0; chunk_begin < ids.size(); chunk_begin += kChunkTokens) {
    const std::size_t rows = std::min(kChunkTokens, ids.size() - chunk_begin);
    impl_->embed(ids.subspan(chunk_begin, rows), x);
    const Segment segment{&storage, rows};
    impl_->run_layers(x, std::span(&segment, 1), /*invariant=*/false);
    // Keep the final-normalised states of the rows the caller asked for.
    for (std::size_t r = 0; r < rows; ++r) {
      const std::size_t index = chunk_begin + r;
      if (index < first_kept) continue;
      eval::rms_norm(x.data() + r * hidden, impl_->weights.final_norm.data(),
                     kept.data() + (index - first_kept) * hidden, 1, hidden, c.rms_norm_eps);
    }
  }
  return kept;
}

std::vector<float> Model::decode(std::span<KvCache* const> caches, std::span<const std::int32_t> ids) const {
  const ModelConfig& c = impl_->config;
  const std::size_t hidden = static_cast<std::size_t>(c.hidden_size);
  const std::size_t vocab = static_cast<std::size_t>(c.vocab_size);
  if (caches.size() != ids.size()) {
    throw Error(ErrorKind::kInternal, "decode: " + std::to_string(ids.size()) + " tokens for " +
                                          std::to_string(caches.size()) + " caches");
  }
  for (std::size_t i = 0; i < caches.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (caches[i] == caches[j]) throw Error(ErrorKind::kInternal, "decode: one cache given twice");
    }
  }
  std::vector<Segment> segments;
  for (KvCache* cache : caches) segments.push_back({&impl_->make_room(cache->storage_, 1), 1});
  impl_->check_tokens(ids);

  std::vector<float> x;
  impl_->embed(ids, x);
  impl_->run_layers(x, segments, /*invariant=*/true);
  std::vector<float> normed(ids.size() * hidden);
  eval::rms_norm(x.data(), impl_->weights.final_norm.data(), normed.data(), ids.size(), hidden,
                 c.rms_norm_eps);
  std::vector<float> out(ids.size() * vocab);
  eval::matmul_bt_invariant(normed.data(), hidden, impl_->weights.output_matrix().data(), hidden, out.data(),
                            vocab, ids.size(), vocab, hidden);
  return out;
}

void Model::logits(std::span<const float> hidden_rows, std::size_t rows, std::span<float> out) const {
  const ModelConfig& c = impl_->config;
  const std::size_t hidden = static_cast<std::size_t>(c.hidden_size);
  const std::size_t vocab = static_cast<std::size_t>(c.vocab_size);
  if (hidden_rows.size() != rows * hidden || out.size() != rows * vocab) {
    throw Error(ErrorKind::kInternal, "logits: buffer sizes do not match the model");
  }
  eval::matmul_bt(hidden_rows.data(), hidden, impl_->weights.output_matrix().data(), hidden, out.data(),
                  vocab, rows, vocab, hidden);
}

std::vector<float> Model::forward(KvCache& cache, std::span<const std::int32_t> ids,
                                  std::size_t keep_rows) const {
  std::vector<float> hidden = forward_hidden(cache, ids, keep_rows);
  std::vector<float> out(keep_rows * static_cast<std::size_t>(impl_->config.vocab_size));
  logits(hidden, keep_rows, out);
  return out;
}

}  // namespace paramdelta
