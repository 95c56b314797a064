#include "eval/tokenizer_json.h"

#include "eval/unicode_utf8.h"
#include "paramdelta/error.h"

namespace paramdelta::tok {

namespace {

std::string type_name(const Json& value) {
  if (value.is_null()) return "null";
  if (value.is_boolean()) return "a boolean";
  if (value.is_number()) return "a number";
  if (value.is_string()) return "a string";
  if (value.is_array()) return "an array";
  return "an object";
}

// Keeps error messages one line and short even when the value is huge or binary.
std::string quoted_excerpt(const std::string& s) {
  std::string cut = s.size() > 60 ? s.substr(0, 60) : s;
  // Do not cut a character in half.
  while (!cut.empty() && find_invalid_utf8(cut)) cut.pop_back();
  return "'" + cut + (s.size() > 60 ? "...'" : "'");
}

}  // namespace

JsonAt JsonAt::operator/(std::string_view key) const {
  return JsonAt{file, path.empty() ? std::string(key) : path + "." + std::string(key)};
}

JsonAt JsonAt::operator[](std::size_t index) const {
  return JsonAt{file, path + "[" + std::to_string(index) + "]"};
}

void fail(const JsonAt& at, const std::string& message, const std::string& hint) {
  throw Error(ErrorKind::kInvalidInput, message, ErrorContext{at.file, {}, at.path}, hint);
}

void fail_unsupported(const JsonAt& at, const std::string& what, const std::string& value,
                      const std::string& supported) {
  throw Error(ErrorKind::kInvalidInput, what + " " + quoted_excerpt(value) + " is not supported",
              ErrorContext{at.file, {}, at.path}, "supported: " + supported);
}

void require_object(const Json& value, const JsonAt& at) {
  if (!value.is_object()) fail(at, "expected an object, found " + type_name(value));
}

const Json& member(const Json& object, std::string_view key, const JsonAt& at) {
  require_object(object, at);
  auto it = object.find(key);
  if (it == object.end()) fail(at / key, "required field is missing");
  return *it;
}

const Json* optional_member(const Json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string as_string(const Json& value, const JsonAt& at) {
  if (!value.is_string()) fail(at, "expected a string, found " + type_name(value));
  return value.get<std::string>();
}

bool as_bool(const Json& value, const JsonAt& at) {
  if (!value.is_boolean()) fail(at, "expected true or false, found " + type_name(value));
  return value.get<bool>();
}

std::int64_t as_integer(const Json& value, const JsonAt& at, std::int64_t min, std::int64_t max) {
  if (!value.is_number_integer()) fail(at, "expected an integer, found " + type_name(value));
  if (value.is_number_unsigned()) {
    const auto u = value.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(max)) {
      fail(at, "value " + std::to_string(u) + " is out of range [" + std::to_string(min) + ", " +
                   std::to_string(max) + "]");
    }
    return static_cast<std::int64_t>(u);
  }
  const auto v = value.get<std::int64_t>();
  if (v < min || v > max) {
    fail(at, "value " + std::to_string(v) + " is out of range [" + std::to_string(min) + ", " +
                 std::to_string(max) + "]");
  }
  return v;
}

double as_number(const Json& value, const JsonAt& at) {
  if (!value.is_number()) fail(at, "expected a number, found " + type_name(value));
  return value.get<double>();
}

std::int32_t as_token_id(const Json& value, const JsonAt& at) {
  return static_cast<std::int32_t>(as_integer(value, at, 0, kMaxTokenId));
}

std::string as_token(const Json& value, const JsonAt& at, bool allow_empty) {
  std::string s = as_string(value, at);
  if (s.empty() && !allow_empty) fail(at, "empty token string");
  if (s.size() > kMaxTokenBytes) {
    fail(at, "token string of " + std::to_string(s.size()) + " bytes is longer than the " +
                 std::to_string(kMaxTokenBytes) + " allowed");
  }
  return s;
}

char32_t as_single_char(const Json& value, const JsonAt& at) {
  const std::string s = as_string(value, at);
  std::size_t length = 0;
  const char32_t c = s.empty() ? 0 : decode_utf8(s, 0, &length);
  if (s.empty() || length != s.size()) fail(at, "expected exactly one character, found " + quoted_excerpt(s));
  return c;
}

bool bool_or(const Json& object, std::string_view key, const JsonAt& at, bool fallback) {
  const Json* v = optional_member(object, key);
  return v ? as_bool(*v, at / key) : fallback;
}

std::string string_or(const Json& object, std::string_view key, const JsonAt& at, std::string fallback) {
  const Json* v = optional_member(object, key);
  return v ? as_string(*v, at / key) : fallback;
}

std::string component_type(const Json& object, const JsonAt& at) {
  return as_string(member(object, "type", at), at / "type");
}

}  // namespace paramdelta::tok
