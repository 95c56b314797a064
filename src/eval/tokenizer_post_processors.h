// Post-processors of tokenizer.json, reduced to what they do to the ids of a
// single sequence: add special tokens (BOS/EOS) around it when the caller asks
// for special tokens. TemplateProcessing, Roberta/BertProcessing, ByteLevel
// (no id change) and Sequence are supported.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "eval/tokenizer_json.h"

namespace paramdelta::tok {

// The single-sequence template: ids before and after the sequence.
struct SpecialTemplate {
  std::vector<std::int32_t> before;
  std::vector<std::int32_t> after;
};

// The template `value` describes (empty for JSON null).
SpecialTemplate parse_post_processor(const Json& value, const JsonAt& at);

}  // namespace paramdelta::tok
