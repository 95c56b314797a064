// Shared by the fuzz targets: a private scratch directory for parsers that read
// files, and the rule every target enforces: hostile input may only end in a
// paramdelta::Error that names what is wrong; any other exception is a bug.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

namespace paramdelta::fuzz {

// A directory private to this process, removed at exit.
const std::filesystem::path& scratch_dir();

void write_bytes(const std::filesystem::path& path, std::string_view bytes);

// Runs `body`. A paramdelta::Error is the expected outcome of bad input (but
// an internal-kind error, an empty message or a multi-line message is not);
// any other exception aborts, so that libFuzzer records the input.
void expect_clean(const std::function<void()>& body);

// Aborts with `what` when `condition` is false (an invariant of an accepted input).
void check(bool condition, const char* what);

}  // namespace paramdelta::fuzz
