// Pre-tokenizers of tokenizer.json: cut the normalized text into the words the
// model encodes one at a time (and, for ByteLevel, map bytes to characters).
#pragma once

#include <memory>
#include <vector>

#include "eval/tokenizer_json.h"
#include "eval/tokenizer_pieces.h"

namespace paramdelta::tok {

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Splits every piece that is not an added token; drops empty pieces.
  virtual void pre_tokenize(std::vector<Piece>& pieces) const = 0;
};

// The pre-tokenizer described by `value`, or nullptr for JSON null.
std::unique_ptr<PreTokenizer> make_pre_tokenizer(const Json& value, const JsonAt& at);

}  // namespace paramdelta::tok
