// Which network a checkpoint is: config.json's model_type and architectures.
// Models of different architectures can hold tensors of the same names and
// shapes, so the weights alone cannot tell a delta between them (or applied
// across them) from a meaningful one.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "paramdelta/checkpoint.h"

namespace paramdelta {

struct ModelIdentity {
  std::string model_type;                  // empty when the config gives none
  std::vector<std::string> architectures;  // empty when the config gives none

  bool empty() const { return model_type.empty() && architectures.empty(); }
  // "llama (LlamaForCausalLM)"; "llama"; "(LlamaForCausalLM)".
  std::string describe() const;
  bool operator==(const ModelIdentity&) const = default;
};

// Reads `config_name` beside the checkpoint's weights, parsed strictly
// (paramdelta::Error naming the file and field on anything malformed);
// nullopt when there is no such file or it names neither field.
std::optional<ModelIdentity> read_model_identity(const Checkpoint& checkpoint,
                                                 const std::string& config_name = "config.json");

// True when the two disagree on a field that both give.
bool architectures_differ(const ModelIdentity& a, const ModelIdentity& b);

}  // namespace paramdelta
