// Typed access to the fields of an untrusted tokenizer.json / tokenizer_config.json:
// every failure names the file and the JSON path of the field ("model.merges[3]").
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace paramdelta::tok {

using Json = nlohmann::json;

// Size sanity limits for untrusted tokenizer files.
inline constexpr std::uint64_t kMaxTokenizerJsonBytes = 512ull << 20;
inline constexpr std::uint64_t kMaxTokenizerConfigBytes = 64ull << 20;
inline constexpr std::uint64_t kMaxChatTemplateBytes = 16ull << 20;
inline constexpr std::size_t kMaxVocabEntries = std::size_t{1} << 24;
inline constexpr std::size_t kMaxMerges = std::size_t{1} << 24;
inline constexpr std::size_t kMaxTokenBytes = 64 * 1024;
inline constexpr std::size_t kMaxPatternBytes = 64 * 1024;
inline constexpr std::int64_t kMaxTokenId = (std::int64_t{1} << 24) - 1;

// Where a JSON value lives: the file and the path inside it.
struct JsonAt {
  std::string file;
  std::string path;  // "" for the document root

  JsonAt operator/(std::string_view key) const;  // object member
  JsonAt operator[](std::size_t index) const;    // array element
};

[[noreturn]] void fail(const JsonAt& at, const std::string& message, const std::string& hint = {});
// For a component whose "type" (or shape) we do not implement.
[[noreturn]] void fail_unsupported(const JsonAt& at, const std::string& what, const std::string& value,
                                   const std::string& supported);

void require_object(const Json& value, const JsonAt& at);
// The member `key` of object `object` (located at `at`); fails when missing.
const Json& member(const Json& object, std::string_view key, const JsonAt& at);
// The member, or nullptr when it is missing or JSON null.
const Json* optional_member(const Json& object, std::string_view key);

std::string as_string(const Json& value, const JsonAt& at);
bool as_bool(const Json& value, const JsonAt& at);
std::int64_t as_integer(const Json& value, const JsonAt& at, std::int64_t min, std::int64_t max);
double as_number(const Json& value, const JsonAt& at);
// A token id: an integer in [0, kMaxTokenId].
std::int32_t as_token_id(const Json& value, const JsonAt& at);
// A token string: non-empty only if `allow_empty` is false, at most kMaxTokenBytes.
std::string as_token(const Json& value, const JsonAt& at, bool allow_empty = false);
// A string holding exactly one character (Metaspace replacement, Strip content).
char32_t as_single_char(const Json& value, const JsonAt& at);

bool bool_or(const Json& object, std::string_view key, const JsonAt& at, bool fallback);
std::string string_or(const Json& object, std::string_view key, const JsonAt& at, std::string fallback);
// The "type" member of a component object.
std::string component_type(const Json& object, const JsonAt& at);

}  // namespace paramdelta::tok
