// Decoders of tokenizer.json: turn the token strings of a list of ids back
// into text (ByteLevel, Metaspace, and the Replace/ByteFallback/Fuse/Strip
// sequence of SentencePiece-style tokenizers).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "eval/tokenizer_json.h"

namespace paramdelta::tok {

class Decoder {
 public:
  virtual ~Decoder() = default;
  // One step of the chain: tokens in, tokens out (Hugging Face's decode_chain).
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};

// The decoder described by `value`, or nullptr for JSON null.
std::unique_ptr<Decoder> make_decoder(const Json& value, const JsonAt& at);

// The text for `tokens`: the decoder's chain, concatenated; without a decoder
// the tokens joined by single spaces (as Hugging Face does).
std::string run_decoder(const Decoder* decoder, std::vector<std::string> tokens);

}  // namespace paramdelta::tok
