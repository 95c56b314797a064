#include "storage/settings.h"

#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>

#include "paramdelta/error.h"

namespace paramdelta::storage {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool valid_name(std::string_view name) {
  if (name.empty() || (name.front() >= '0' && name.front() <= '9')) return false;
  for (char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

const std::map<std::string, std::string, std::less<>>& dotenv() {
  static std::once_flag once;
  static std::map<std::string, std::string, std::less<>> values;
  std::call_once(once, [] {
    std::ifstream in(".env", std::ios::binary);
    if (!in) return;
    std::ostringstream text;
    text << in.rdbuf();
    values = parse_env_file(text.str(), ".env");
  });
  return values;
}

}  // namespace

std::map<std::string, std::string, std::less<>> parse_env_file(std::string_view text,
                                                               const std::string& label) {
  std::map<std::string, std::string, std::less<>> out;
  std::size_t number = 0;
  while (!text.empty()) {
    ++number;
    const std::size_t eol = text.find('\n');
    std::string_view line = trim(text.substr(0, eol));
    text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
    if (line.empty() || line.front() == '#') continue;
    if (line.substr(0, 7) == "export ") line = trim(line.substr(7));
    const std::size_t eq = line.find('=');
    const std::string where = "line " + std::to_string(number);
    if (eq == std::string_view::npos) {
      throw Error(ErrorKind::kInvalidInput, "is not NAME=VALUE", ErrorContext{label, {}, where},
                  "write one setting per line, e.g. AZURE_STORAGE_ACCOUNT_NAME=myaccount");
    }
    const std::string_view name = trim(line.substr(0, eq));
    if (!valid_name(name)) {
      throw Error(ErrorKind::kInvalidInput, "'" + std::string(name) + "' is not a variable name",
                  ErrorContext{label, {}, where});
    }
    std::string_view value = trim(line.substr(eq + 1));
    if (!value.empty() && (value.front() == '"' || value.front() == '\'')) {
      const char quote = value.front();
      const std::size_t close = value.find(quote, 1);
      if (close == std::string_view::npos) {
        throw Error(ErrorKind::kInvalidInput, "the value of " + std::string(name) + " has no closing quote",
                    ErrorContext{label, {}, where});
      }
      value = value.substr(1, close - 1);
    } else if (const std::size_t hash = value.find(" #"); hash != std::string_view::npos) {
      value = trim(value.substr(0, hash));  // an inline comment
    }
    out[std::string(name)] = std::string(value);
  }
  return out;
}

std::optional<std::string> setting(std::string_view name) {
  const std::string key(name);
  if (const char* v = std::getenv(key.c_str()); v != nullptr && *v != '\0') return std::string(v);
  const auto& file = dotenv();
  if (auto it = file.find(name); it != file.end() && !it->second.empty()) return it->second;
  return std::nullopt;
}

}  // namespace paramdelta::storage
