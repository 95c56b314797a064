// The public Tokenizer: reads tokenizer.json (+ tokenizer_config.json) and runs
// Hugging Face's pipeline: added tokens -> normalizer -> pre-tokenizer -> BPE
// -> special tokens; and back: ids -> tokens -> decoder.
#include "paramdelta/tokenizer.h"

#include "eval/tokenizer_added_tokens.h"
#include "eval/tokenizer_bpe.h"
#include "eval/tokenizer_config.h"
#include "eval/tokenizer_decoders.h"
#include "eval/tokenizer_json.h"
#include "eval/tokenizer_normalizers.h"
#include "eval/tokenizer_post_processors.h"
#include "eval/tokenizer_pre_tokenizers.h"
#include "eval/unicode_utf8.h"
#include "io/file_kind.h"
#include "io/json_strict.h"
#include "paramdelta/error.h"

namespace paramdelta {

namespace fs = std::filesystem;
using tok::Json;
using tok::JsonAt;

struct Tokenizer::Impl {
  std::unique_ptr<tok::Normalizer> normalizer;
  std::unique_ptr<tok::PreTokenizer> pre_tokenizer;
  std::unique_ptr<tok::BpeModel> model;
  tok::AddedVocabulary added;
  std::unique_ptr<tok::Decoder> decoder;
  tok::SpecialTemplate specials;
  std::optional<std::int32_t> bos;
  std::optional<std::int32_t> eos;
  std::string chat_template;
  std::string chat_template_source;

  std::optional<std::int32_t> token_to_id(std::string_view token) const {
    if (auto id = added.token_to_id(token)) return id;
    return model->token_to_id(token);
  }
  std::optional<std::string> id_to_token(std::int32_t id) const {
    if (const tok::AddedToken* t = added.token_for_id(id)) return t->content;
    if (const std::string* s = model->id_to_token(id)) return *s;
    return std::nullopt;
  }
};

namespace {

std::unique_ptr<tok::BpeModel> make_model(const Json& model, const JsonAt& at) {
  tok::require_object(model, at);
  std::string type;
  if (const Json* t = tok::optional_member(model, "type")) {
    type = tok::as_string(*t, at / "type");
  } else if (model.contains("merges")) {
    type = "BPE";  // Hugging Face infers the model from its fields
  } else {
    tok::fail(at / "type", "the model has no type");
  }
  if (type != "BPE") {
    tok::fail_unsupported(at / "type", "model type", type, "BPE (byte-level or SentencePiece-style)");
  }
  return std::make_unique<tok::BpeModel>(tok::BpeModel::from_json(model, at));
}

// add_bos_token / add_eos_token in tokenizer_config.json replace the
// post-processor's template, as transformers does when it loads the tokenizer.
void apply_config_template(const tok::TokenizerConfig& config, const std::string& config_file,
                           std::optional<std::int32_t> bos, std::optional<std::int32_t> eos,
                           tok::SpecialTemplate& specials) {
  if (!config.add_bos_token && !config.add_eos_token) return;
  // transformers' Llama/Gemma tokenizer classes add BOS unless told otherwise.
  const std::string& cls = config.tokenizer_class;
  const bool bos_by_default = cls.rfind("LlamaTokenizer", 0) == 0 ||
                              cls.rfind("CodeLlamaTokenizer", 0) == 0 || cls.rfind("GemmaTokenizer", 0) == 0;
  const bool add_bos = config.add_bos_token.value_or(bos_by_default);
  const bool add_eos = config.add_eos_token.value_or(false);
  specials = {};
  if (add_bos) {
    if (!bos) {
      throw Error(ErrorKind::kMismatch, "add_bos_token is true but the BOS token is unknown",
                  ErrorContext{config_file, {}, "bos_token"}, "name a bos_token that is in the vocabulary");
    }
    specials.before.push_back(*bos);
  }
  if (add_eos) {
    if (!eos) {
      throw Error(ErrorKind::kMismatch, "add_eos_token is true but the EOS token is unknown",
                  ErrorContext{config_file, {}, "eos_token"}, "name an eos_token that is in the vocabulary");
    }
    specials.after.push_back(*eos);
  }
}

}  // namespace

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::from_files(const fs::path& tokenizer_json,
                                const std::optional<fs::path>& tokenizer_config_json) {
  const std::string file = tokenizer_json.string();
  const Json root = parse_json_strict(read_small_file(file, tok::kMaxTokenizerJsonBytes), file);
  const JsonAt at{file, {}};
  tok::require_object(root, at);
  if (const Json* version = tok::optional_member(root, "version")) {
    const std::string v = tok::as_string(*version, at / "version");
    if (v != "1.0") tok::fail_unsupported(at / "version", "tokenizer.json version", v, "1.0");
  }

  auto impl = std::make_unique<Impl>();
  const Json null_value;
  auto part = [&](std::string_view key) -> const Json& {
    const Json* v = tok::optional_member(root, key);
    return v ? *v : null_value;
  };
  impl->normalizer = tok::make_normalizer(part("normalizer"), at / "normalizer");
  impl->pre_tokenizer = tok::make_pre_tokenizer(part("pre_tokenizer"), at / "pre_tokenizer");
  impl->model = make_model(tok::member(root, "model", at), at / "model");
  impl->added = tok::AddedVocabulary::from_json(part("added_tokens"), at / "added_tokens", *impl->model,
                                                impl->normalizer.get());
  impl->decoder = tok::make_decoder(part("decoder"), at / "decoder");
  impl->specials = tok::parse_post_processor(part("post_processor"), at / "post_processor");
  // truncation and padding are deliberately ignored: transformers turns them
  // off for a plain encode, and perplexity needs the whole text.

  // BOS/EOS: named by tokenizer_config.json, else read off the template.
  std::optional<tok::TokenizerConfig> config;
  if (tokenizer_config_json) config = tok::read_tokenizer_config(*tokenizer_config_json);
  if (config && config->bos_token) {
    impl->bos = impl->token_to_id(*config->bos_token);
  } else if (!impl->specials.before.empty()) {
    impl->bos = impl->specials.before.front();
  }
  if (config && config->eos_token) {
    impl->eos = impl->token_to_id(*config->eos_token);
  } else if (!impl->specials.after.empty()) {
    impl->eos = impl->specials.after.back();
  }
  if (config) {
    apply_config_template(*config, tokenizer_config_json->string(), impl->bos, impl->eos, impl->specials);
    impl->chat_template = config->chat_template;
    if (!impl->chat_template.empty()) impl->chat_template_source = tokenizer_config_json->string();
  }
  return Tokenizer(std::move(impl));
}

Tokenizer Tokenizer::from_model_dir(const fs::path& dir) {
  const fs::path json = dir / "tokenizer.json";
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    refuse_url(dir.string(), false);
    throw Error(ErrorKind::kNotFound, "no such file or directory", ErrorContext{dir.string()});
  }
  if (!fs::is_regular_file(json, ec)) {
    throw Error(ErrorKind::kInvalidInput, "the model directory has no tokenizer.json",
                ErrorContext{dir.string(), {}, {}},
                "only the Hugging Face 'fast' tokenizer format is read; save the tokenizer with transformers "
                "to get one");
  }
  const fs::path config = dir / "tokenizer_config.json";
  std::optional<fs::path> config_path;
  if (fs::is_regular_file(config, ec)) config_path = config;
  Tokenizer t = from_files(json, config_path);
  // A chat_template.jinja file takes precedence, as in transformers.
  const fs::path jinja = dir / "chat_template.jinja";
  if (fs::is_regular_file(jinja, ec)) {
    t.impl_->chat_template = read_small_file(jinja.string(), tok::kMaxChatTemplateBytes);
    t.impl_->chat_template_source = jinja.string();
  }
  return t;
}

std::vector<std::int32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  if (auto bad = tok::find_invalid_utf8(text)) {
    throw Error(ErrorKind::kInvalidInput, "text is not valid UTF-8 (at byte " + std::to_string(*bad) + ")",
                {}, "convert the text to UTF-8 first");
  }
  std::vector<tok::Piece> pieces;
  impl_->added.split(text, impl_->normalizer.get(), pieces);
  if (impl_->pre_tokenizer) impl_->pre_tokenizer->pre_tokenize(pieces);

  std::vector<std::int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  if (add_special_tokens) ids = impl_->specials.before;
  for (const tok::Piece& p : pieces) {
    if (p.is_added()) {
      ids.push_back(p.added_id);
    } else {
      impl_->model->tokenize(p.text, ids);
    }
  }
  if (add_special_tokens) ids.insert(ids.end(), impl_->specials.after.begin(), impl_->specials.after.end());
  return ids;
}

std::string Tokenizer::decode(std::span<const std::int32_t> ids, bool skip_special_tokens) const {
  // As in Hugging Face, ids outside the vocabulary are skipped.
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (std::int32_t id : ids) {
    auto token = impl_->id_to_token(id);
    if (!token) continue;
    if (skip_special_tokens && impl_->added.is_special(*token)) continue;
    tokens.push_back(std::move(*token));
  }
  return tok::run_decoder(impl_->decoder.get(), std::move(tokens));
}

std::optional<std::int32_t> Tokenizer::token_to_id(std::string_view token) const {
  return impl_->token_to_id(token);
}

std::optional<std::string> Tokenizer::id_to_token(std::int32_t id) const { return impl_->id_to_token(id); }

std::optional<std::int32_t> Tokenizer::bos_id() const { return impl_->bos; }

std::optional<std::int32_t> Tokenizer::eos_id() const { return impl_->eos; }

std::size_t Tokenizer::vocab_size() const {
  return static_cast<std::size_t>(std::max(impl_->model->max_id(), impl_->added.max_id()) + 1);
}

const std::string& Tokenizer::chat_template() const { return impl_->chat_template; }
const std::string& Tokenizer::chat_template_source() const { return impl_->chat_template_source; }

}  // namespace paramdelta
