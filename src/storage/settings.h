// Settings of the remote stores, named as their own tools name them
// (AZURE_STORAGE_CONNECTION_STRING, AWS_ACCESS_KEY_ID, ...): the process
// environment first, then a .env file in the working directory (as
// python-dotenv reads it: KEY=VALUE lines, "export " allowed, '#' comments,
// values optionally in single or double quotes; a variable already in the
// environment is not overridden).
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace paramdelta::storage {

// The value of `name`, or nothing when it is unset or empty in both places.
std::optional<std::string> setting(std::string_view name);

// Parses the text of a .env file; `label` names it in errors (a line that is
// neither blank, a comment nor KEY=VALUE is an error naming its number).
std::map<std::string, std::string, std::less<>> parse_env_file(std::string_view text,
                                                               const std::string& label);

}  // namespace paramdelta::storage
