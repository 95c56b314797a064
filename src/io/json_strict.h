// The one way paramdelta parses untrusted JSON: bounded nesting depth,
// duplicate keys rejected, errors reported with the file and byte position.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace paramdelta {

inline constexpr int kDefaultMaxJsonDepth = 64;

// Throws paramdelta::Error (kInvalidInput) naming `label`.
nlohmann::json parse_json_strict(std::string_view text, const std::string& label,
                                 int max_depth = kDefaultMaxJsonDepth);
nlohmann::ordered_json parse_json_strict_ordered(std::string_view text, const std::string& label,
                                                 int max_depth = kDefaultMaxJsonDepth);

// Checks `text` as the parsers above do (syntax, depth, duplicate keys) and
// that it is one JSON object, without building the document: for files that
// are only copied, which may be large (a tokenizer.json of tens of MB).
void check_json_object_strict(std::string_view text, const std::string& label,
                              int max_depth = kDefaultMaxJsonDepth);

// Reads a whole (small) file and parses it; refuses files over `max_bytes`.
nlohmann::json read_json_file(const std::string& path, std::uint64_t max_bytes = 64ull << 20);
nlohmann::ordered_json read_json_file_ordered(const std::string& path, std::uint64_t max_bytes = 64ull << 20);

// Plain whole-file read with a size cap; throws paramdelta::Error.
std::string read_small_file(const std::string& path, std::uint64_t max_bytes);

}  // namespace paramdelta
