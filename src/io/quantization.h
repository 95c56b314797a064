// Quantized checkpoints: weights stored as codes (FP8, int4, int8...) whose
// values depend on companion tensors (block or group scales, zero points).
// paramdelta reads weights as plain floating-point values, so such a
// checkpoint would give wrong weights without a word; every operation that
// reads weights refuses it, and inspect says what it is.
#pragma once

#include <optional>
#include <string>

#include "paramdelta/checkpoint.h"
#include "paramdelta/error.h"

namespace paramdelta {

struct Quantization {
  // The method as config.json names it ("fp8", "gptq", "bitsandbytes"...), or
  // as the companion tensors show it when the config says nothing.
  std::string method;
  std::string evidence;  // what gave it away, in words, when not the config
  ErrorContext where;    // the config file and field, or the weight file and companion tensor
};

// Looks at `config_name` beside the weights (config.json; a delta keeps its
// post model's as post_config.json), parsed strictly, and at the tensor names.
std::optional<Quantization> find_quantization(const Checkpoint& checkpoint,
                                              const std::string& config_name = "config.json");

// Throws paramdelta::Error (kInvalidInput) naming the method when the
// checkpoint is quantized.
void refuse_quantized(const Checkpoint& checkpoint, const std::string& config_name = "config.json");

}  // namespace paramdelta
