#include "eval/tokenizer_config.h"

#include "eval/tokenizer_json.h"
#include "io/json_strict.h"

namespace paramdelta::tok {

namespace {

// A token is written either as its text or as an AddedToken object {"content": ...}.
std::optional<std::string> token_setting(const Json& config, std::string_view key, const JsonAt& at) {
  const Json* value = optional_member(config, key);
  if (!value) return std::nullopt;
  if (value->is_string()) return as_token(*value, at / key);
  if (value->is_object()) return as_token(member(*value, "content", at / key), at / key / "content");
  fail(at / key, "expected a token string or an object with \"content\"");
}

std::optional<bool> bool_setting(const Json& config, std::string_view key, const JsonAt& at) {
  const Json* value = optional_member(config, key);
  if (!value) return std::nullopt;
  return as_bool(*value, at / key);
}

// A string, or a list of {"name", "template"} of which we take "default".
std::string chat_template_setting(const Json& config, const JsonAt& at) {
  const Json* value = optional_member(config, "chat_template");
  if (!value) return {};
  const JsonAt t_at = at / "chat_template";
  if (value->is_string()) return value->get<std::string>();
  if (!value->is_array()) fail(t_at, "expected a string or a list of named templates");
  for (std::size_t i = 0; i < value->size(); ++i) {
    const Json& entry = (*value)[i];
    const std::string name = as_string(member(entry, "name", t_at[i]), t_at[i] / "name");
    if (name == "default") return as_string(member(entry, "template", t_at[i]), t_at[i] / "template");
  }
  return {};
}

}  // namespace

TokenizerConfig read_tokenizer_config(const std::filesystem::path& path) {
  const Json config =
      parse_json_strict(read_small_file(path.string(), kMaxTokenizerConfigBytes), path.string());
  const JsonAt at{path.string(), {}};
  require_object(config, at);
  TokenizerConfig result;
  result.add_bos_token = bool_setting(config, "add_bos_token", at);
  result.add_eos_token = bool_setting(config, "add_eos_token", at);
  result.bos_token = token_setting(config, "bos_token", at);
  result.eos_token = token_setting(config, "eos_token", at);
  result.tokenizer_class = string_or(config, "tokenizer_class", at, "");
  result.chat_template = chat_template_setting(config, at);
  return result;
}

}  // namespace paramdelta::tok
