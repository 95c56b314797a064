#include "delta/model_identity.h"

#include <nlohmann/json.hpp>

#include "io/json_strict.h"
#include "paramdelta/error.h"

namespace paramdelta {

std::string ModelIdentity::describe() const {
  std::string names;
  for (const auto& a : architectures) names += (names.empty() ? "" : ", ") + a;
  if (model_type.empty()) return "(" + names + ")";
  return names.empty() ? model_type : model_type + " (" + names + ")";
}

std::optional<ModelIdentity> read_model_identity(const Checkpoint& checkpoint,
                                                 const std::string& config_name) {
  const std::optional<std::string> text = checkpoint.read_text_file(config_name);
  if (!text) return std::nullopt;
  const std::string label = (checkpoint.root() / config_name).string();
  const nlohmann::json config = parse_json_strict(*text, label);
  if (!config.is_object()) throw_invalid(label, "expected a JSON object");
  ModelIdentity identity;
  if (config.contains("model_type") && !config.at("model_type").is_null()) {
    if (!config.at("model_type").is_string()) throw_invalid(label, "expected a string", {}, "model_type");
    identity.model_type = config.at("model_type").get<std::string>();
  }
  if (config.contains("architectures") && !config.at("architectures").is_null()) {
    const nlohmann::json& list = config.at("architectures");
    if (!list.is_array()) throw_invalid(label, "expected a list of strings", {}, "architectures");
    for (const auto& entry : list) {
      if (!entry.is_string()) throw_invalid(label, "expected a list of strings", {}, "architectures");
      identity.architectures.push_back(entry.get<std::string>());
    }
  }
  if (identity.empty()) return std::nullopt;
  return identity;
}

bool architectures_differ(const ModelIdentity& a, const ModelIdentity& b) {
  const bool types_differ = !a.model_type.empty() && !b.model_type.empty() && a.model_type != b.model_type;
  const bool classes_differ =
      !a.architectures.empty() && !b.architectures.empty() && a.architectures != b.architectures;
  return types_differ || classes_differ;
}

}  // namespace paramdelta
