// Normalizers of tokenizer.json: rewrite each piece of text before it is
// pre-tokenized (and the contents of "normalized" added tokens).
#pragma once

#include <memory>

#include "eval/tokenizer_json.h"
#include "eval/tokenizer_pieces.h"

namespace paramdelta::tok {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  // Rewrites piece.text (never an added-token piece); keeps origin_bytes right.
  virtual void normalize(Piece& piece) const = 0;
};

// The normalizer described by `value`, or nullptr for JSON null. Unsupported
// types throw Error naming the field and the type.
std::unique_ptr<Normalizer> make_normalizer(const Json& value, const JsonAt& at);

}  // namespace paramdelta::tok
