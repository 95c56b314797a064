// Usage errors about what the user typed that the parser did not know: an
// unknown command, an unknown flag, a stray argument, named with the closest
// command or flag. They take precedence over CLI11's own complaints (a
// missing required flag is usually the misspelt one).
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

namespace paramdelta::cli {

// After a parse (successful or not): one line about the first argument that
// no command or flag took, or nothing when every argument was taken.
std::optional<std::string> describe_unrecognized_argument(const CLI::App& app);

// "a command is required: analyze, apply, ..." when no command was given.
std::optional<std::string> describe_missing_command(const CLI::App& app);

}  // namespace paramdelta::cli
