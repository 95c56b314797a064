#include "eval/tokenizer_post_processors.h"

namespace paramdelta::tok {

namespace {

// TemplateProcessing: "single" is a list of {"SpecialToken": {"id": name}} and
// {"Sequence": {"id": "A"}} items; "special_tokens" maps names to their ids.
SpecialTemplate parse_template(const Json& value, const JsonAt& at) {
  const JsonAt single_at = at / "single";
  const Json& single = member(value, "single", at);
  if (!single.is_array()) fail(single_at, "expected an array of template pieces");
  const Json& specials = member(value, "special_tokens", at);
  require_object(specials, at / "special_tokens");

  SpecialTemplate result;
  bool seen_sequence = false;
  for (std::size_t i = 0; i < single.size(); ++i) {
    const JsonAt p_at = single_at[i];
    const Json& piece = single[i];
    require_object(piece, p_at);
    if (const Json* seq = optional_member(piece, "Sequence")) {
      const std::string id = as_string(member(*seq, "id", p_at / "Sequence"), p_at / "Sequence" / "id");
      if (id != "A") fail(p_at / "Sequence" / "id", "a single-sequence template can only use sequence A");
      if (seen_sequence) fail(p_at, "sequence A appears twice in the template");
      seen_sequence = true;
      continue;
    }
    if (const Json* special = optional_member(piece, "SpecialToken")) {
      const JsonAt s_at = p_at / "SpecialToken";
      const std::string name = as_string(member(*special, "id", s_at), s_at / "id");
      const JsonAt def_at = at / "special_tokens" / name;
      auto it = specials.find(name);
      if (it == specials.end())
        fail(def_at, "the template uses special token '" + name + "', which is not defined");
      const Json& ids = member(*it, "ids", def_at);
      if (!ids.is_array()) fail(def_at / "ids", "expected an array of ids");
      auto& target = seen_sequence ? result.after : result.before;
      for (std::size_t k = 0; k < ids.size(); ++k) target.push_back(as_token_id(ids[k], (def_at / "ids")[k]));
      continue;
    }
    fail(p_at, "expected {\"Sequence\": ...} or {\"SpecialToken\": ...}");
  }
  if (!seen_sequence) fail(single_at, "the template does not contain the sequence ($A)");
  return result;
}

// Roberta/BertProcessing: "cls": [token, id], "sep": [token, id]; gives cls A sep.
std::int32_t processor_token_id(const Json& value, std::string_view key, const JsonAt& at) {
  const Json& pair = member(value, key, at);
  if (!pair.is_array() || pair.size() != 2) fail(at / key, "expected [token, id]");
  return as_token_id(pair[1], (at / key)[1]);
}

}  // namespace

SpecialTemplate parse_post_processor(const Json& value, const JsonAt& at) {
  if (value.is_null()) return {};
  const std::string type = component_type(value, at);
  if (type == "TemplateProcessing") return parse_template(value, at);
  if (type == "ByteLevel") return {};  // only adjusts offsets
  if (type == "RobertaProcessing" || type == "BertProcessing") {
    return SpecialTemplate{{processor_token_id(value, "cls", at)}, {processor_token_id(value, "sep", at)}};
  }
  if (type == "Sequence") {
    const JsonAt list_at = at / "processors";
    const Json& list = member(value, "processors", at);
    if (!list.is_array()) fail(list_at, "expected an array");
    // Each processor wraps what the previous ones produced.
    SpecialTemplate result;
    for (std::size_t i = 0; i < list.size(); ++i) {
      SpecialTemplate t = parse_post_processor(list[i], list_at[i]);
      t.before.insert(t.before.end(), result.before.begin(), result.before.end());
      result.before = std::move(t.before);
      result.after.insert(result.after.end(), t.after.begin(), t.after.end());
    }
    return result;
  }
  fail_unsupported(at / "type", "post-processor type", type,
                   "TemplateProcessing, ByteLevel, RobertaProcessing, BertProcessing, Sequence");
}

}  // namespace paramdelta::tok
