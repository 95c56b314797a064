#include "io/json_strict.h"

#include <fstream>
#include <set>
#include <sstream>
#include <system_error>
#include <vector>
#include <filesystem>

#include "paramdelta/error.h"

namespace paramdelta {

namespace {

struct DuplicateKey {
  std::string key;
};
struct TooDeep {};

template <typename Json>
Json parse_with_guards(std::string_view text, const std::string& label, int max_depth) {
  // One set of seen keys per open object, to reject {"a":1,"a":2}: JSON leaves
  // duplicates undefined and readers disagree on which one wins.
  std::vector<std::set<std::string>> open_objects;
  auto guard = [&](int depth, nlohmann::json::parse_event_t event, Json& parsed) -> bool {
    using E = nlohmann::json::parse_event_t;
    if (depth > max_depth) throw TooDeep{};
    switch (event) {
      case E::object_start:
        open_objects.emplace_back();
        break;
      case E::object_end:
        if (!open_objects.empty()) open_objects.pop_back();
        break;
      case E::key: {
        auto key = parsed.template get<std::string>();
        if (!open_objects.empty() && !open_objects.back().insert(key).second) throw DuplicateKey{key};
        break;
      }
      default:
        break;
    }
    return true;
  };
  try {
    return Json::parse(text.begin(), text.end(), guard, /*allow_exceptions=*/true, /*ignore_comments=*/false);
  } catch (const TooDeep&) {
    throw Error(ErrorKind::kInvalidInput, "JSON nested deeper than " + std::to_string(max_depth) + " levels",
                ErrorContext{label, {}, {}}, "the file is malformed or hostile");
  } catch (const DuplicateKey& d) {
    throw Error(ErrorKind::kInvalidInput, "duplicate JSON key '" + d.key + "'", ErrorContext{label, {}, {}},
                "each name may appear once");
  } catch (const nlohmann::json::parse_error& e) {
    std::string what = e.what();
    // nlohmann's text starts with "[json.exception.parse_error.101] "; keep the useful part.
    auto pos = what.find("] ");
    if (pos != std::string::npos) what = what.substr(pos + 2);
    throw Error(ErrorKind::kInvalidInput, "invalid JSON: " + what, ErrorContext{label, {}, {}});
  }
}

}  // namespace

nlohmann::json parse_json_strict(std::string_view text, const std::string& label, int max_depth) {
  return parse_with_guards<nlohmann::json>(text, label, max_depth);
}

nlohmann::ordered_json parse_json_strict_ordered(std::string_view text, const std::string& label, int max_depth) {
  return parse_with_guards<nlohmann::ordered_json>(text, label, max_depth);
}

std::string read_small_file(const std::string& path, std::uint64_t max_bytes) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  if (ec) throw Error(ErrorKind::kIo, "cannot read file: " + ec.message(), ErrorContext{path, {}, {}});
  if (size > max_bytes) {
    throw Error(ErrorKind::kInvalidInput,
                "file is " + std::to_string(size) + " bytes, more than the " + std::to_string(max_bytes) +
                    " this kind of file may have",
                ErrorContext{path, {}, {}});
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorKind::kIo, "cannot open file for reading", ErrorContext{path, {}, {}});
  std::string text(size, '\0');
  in.read(text.data(), static_cast<std::streamsize>(size));
  if (static_cast<std::uint64_t>(in.gcount()) != size) {
    throw Error(ErrorKind::kIo, "file shrank while being read", ErrorContext{path, {}, {}});
  }
  return text;
}

nlohmann::json read_json_file(const std::string& path, std::uint64_t max_bytes) {
  return parse_json_strict(read_small_file(path, max_bytes), path);
}

nlohmann::ordered_json read_json_file_ordered(const std::string& path, std::uint64_t max_bytes) {
  return parse_json_strict_ordered(read_small_file(path, max_bytes), path);
}

}  // namespace paramdelta
