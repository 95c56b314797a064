// The files of a Hugging Face model directory besides its weights, as
// paramdelta reads and writes them, and which existing directories an output
// may replace: only what paramdelta itself could have written there.
#pragma once

#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace paramdelta {

inline constexpr const char* kConfigFile = "config.json";
inline constexpr const char* kGenerationConfigFile = "generation_config.json";
inline constexpr const char* kPostConfigFile =
    "post_config.json";  // the post model's config, kept in a delta
inline constexpr const char* kManifestFileName = "paramdelta.json";  // a delta's manifest

// Tokenizer and chat-template files: they define the token ids a model's
// weights are trained for, so they travel as one set (never mixed).
const std::vector<std::string>& tokenizer_file_names();

// Whether paramdelta writes files of this name into a model or delta
// directory: weights and their index, configs, the manifest, tokenizer files.
bool is_written_by_paramdelta(const std::string& name);

// What stops an existing directory from being replaced by a model or delta
// directory, said as what is there; nullopt when it may be replaced. It may
// when it holds nothing, or only regular files that paramdelta writes into a
// model or delta directory (weights *.safetensors and their
// *.safetensors.index.json, config.json, generation_config.json,
// post_config.json, paramdelta.json, the tokenizer files) and among them a
// delta's manifest or a model's config.json with weights.
std::optional<std::string> why_directory_is_not_replaceable(const std::filesystem::path& dir);
// The same rule for the names of a directory's files (an object store's keys
// below a prefix: a name with '/' is a file in a subdirectory).
std::optional<std::string> why_files_are_not_replaceable(const std::set<std::string>& names);

}  // namespace paramdelta
