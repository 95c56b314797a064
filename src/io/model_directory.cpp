#include "io/model_directory.h"

#include <algorithm>
#include <set>

namespace paramdelta {

namespace fs = std::filesystem;

const std::vector<std::string>& tokenizer_file_names() {
  static const std::vector<std::string> names = {
      "tokenizer.json",
      "tokenizer_config.json",
      "special_tokens_map.json",
      "tokenizer.model",
      "chat_template.jinja",
      "chat_template.json",
      "added_tokens.json",
      "vocab.json",
      "merges.txt",
      "vocab.txt",
  };
  return names;
}

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_weights_file(const std::string& name) {
  return ends_with(name, ".safetensors") || ends_with(name, ".safetensors.index.json");
}

}  // namespace

bool is_written_by_paramdelta(const std::string& name) {
  const auto& tokenizer = tokenizer_file_names();
  return is_weights_file(name) || name == kConfigFile || name == kGenerationConfigFile ||
         name == kPostConfigFile || name == kManifestFileName ||
         std::find(tokenizer.begin(), tokenizer.end(), name) != tokenizer.end();
}

std::optional<std::string> why_directory_is_not_replaceable(const fs::path& dir) {
  std::set<std::string> names;  // sorted: the message names the same entry every time
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const fs::file_status status = it->symlink_status(ec);
    if (fs::is_directory(status)) return "holds the directory '" + name + "'";
    if (!fs::is_regular_file(status)) return "holds '" + name + "', which is not a regular file";
    if (!is_written_by_paramdelta(name)) return "holds '" + name + "', which paramdelta does not write";
    names.insert(name);
  }
  if (ec) return "cannot be listed: " + ec.message();
  return why_files_are_not_replaceable(names);
}

std::optional<std::string> why_files_are_not_replaceable(const std::set<std::string>& names) {
  for (const auto& name : names) {
    if (const auto slash = name.find('/'); slash != std::string::npos) {
      return "holds the directory '" + name.substr(0, slash) + "'";
    }
    if (!is_written_by_paramdelta(name)) return "holds '" + name + "', which paramdelta does not write";
  }
  if (names.empty()) return std::nullopt;
  const bool delta = names.count(kManifestFileName) > 0;
  const bool model = names.count(kConfigFile) > 0 && std::any_of(names.begin(), names.end(), is_weights_file);
  if (delta || model) return std::nullopt;
  return "holds neither a delta (no " + std::string(kManifestFileName) + ") nor a model (no " +
         (names.count(kConfigFile) > 0 ? "weights" : std::string(kConfigFile)) + ")";
}

}  // namespace paramdelta
