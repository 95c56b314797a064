#include "io/json_strict.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <unordered_set>
#include <vector>

#include "paramdelta/error.h"

namespace paramdelta {

namespace {

// First pass over untrusted text, building nothing: rejects nesting deeper
// than the cap and duplicate keys ({"a":1,"a":2} is undefined in JSON and
// readers disagree on which one wins). The document is then built by the plain
// parser in a second pass. (nlohmann's callback parser cannot be used for
// this: after every nested value it scans the enclosing object, which makes a
// header of n tensors cost O(n^2) and lets a hostile file stall the program.)
class GuardSax {
 public:
  using number_integer_t = nlohmann::json::number_integer_t;
  using number_unsigned_t = nlohmann::json::number_unsigned_t;
  using number_float_t = nlohmann::json::number_float_t;
  using string_t = nlohmann::json::string_t;
  using binary_t = nlohmann::json::binary_t;

  GuardSax(const std::string& label, int max_depth) : label_(label), max_depth_(max_depth) {}

  bool null() { return true; }
  bool boolean(bool) { return true; }
  bool number_integer(number_integer_t) { return true; }
  bool number_unsigned(number_unsigned_t) { return true; }
  bool number_float(number_float_t, const string_t&) { return true; }
  bool string(string_t&) { return true; }
  bool binary(binary_t&) { return true; }
  bool start_object(std::size_t) {
    enter();
    open_objects_.emplace_back();
    return true;
  }
  bool key(string_t& key) {
    if (!open_objects_.back().insert(key).second) {
      throw Error(ErrorKind::kInvalidInput, "duplicate JSON key '" + key + "'", ErrorContext{label_, {}, {}},
                  "each name may appear once");
    }
    return true;
  }
  bool end_object() {
    open_objects_.pop_back();
    --depth_;
    return true;
  }
  bool start_array(std::size_t) {
    enter();
    return true;
  }
  bool end_array() {
    --depth_;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) {
    std::string what = e.what();
    // nlohmann's text starts with "[json.exception.parse_error.101] "; keep the useful part.
    auto pos = what.find("] ");
    if (pos != std::string::npos) what = what.substr(pos + 2);
    throw Error(ErrorKind::kInvalidInput, "invalid JSON: " + what, ErrorContext{label_, {}, {}});
  }

 private:
  void enter() {
    if (++depth_ > max_depth_) {
      throw Error(ErrorKind::kInvalidInput,
                  "JSON nested deeper than " + std::to_string(max_depth_) + " levels",
                  ErrorContext{label_, {}, {}}, "the file is malformed or hostile");
    }
  }
  const std::string& label_;
  int max_depth_;
  int depth_ = 0;
  std::vector<std::unordered_set<std::string>> open_objects_;  // keys seen, per open object
};

// Builds an ordered_json document in time linear in its size. The stock
// parser inserts each member with a search of the object built so far
// (O(n^2) for an object of n members, e.g. a manifest's tensors); here members
// are appended, which is right because the first pass has rejected duplicates.
class OrderedBuilder {
 public:
  using Json = nlohmann::ordered_json;
  using number_integer_t = Json::number_integer_t;
  using number_unsigned_t = Json::number_unsigned_t;
  using number_float_t = Json::number_float_t;
  using string_t = Json::string_t;
  using binary_t = Json::binary_t;

  Json take() { return std::move(root_); }

  bool null() { return add(nullptr) != nullptr; }
  bool boolean(bool v) { return add(v) != nullptr; }
  bool number_integer(number_integer_t v) { return add(v) != nullptr; }
  bool number_unsigned(number_unsigned_t v) { return add(v) != nullptr; }
  bool number_float(number_float_t v, const string_t&) { return add(v) != nullptr; }
  bool string(string_t& v) { return add(std::move(v)) != nullptr; }
  bool binary(binary_t& v) { return add(Json::binary(std::move(v))) != nullptr; }
  bool start_object(std::size_t) {
    open_.push_back(add(Json::object()));
    return true;
  }
  bool key(string_t& k) {
    key_ = std::move(k);
    return true;
  }
  bool end_object() {
    open_.pop_back();
    return true;
  }
  bool start_array(std::size_t) {
    open_.push_back(add(Json::array()));
    return true;
  }
  bool end_array() {
    open_.pop_back();
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) { return false; }

 private:
  // Only the innermost open container grows, so pointers to the open ones stay valid.
  template <typename V>
  Json* add(V&& value) {
    if (open_.empty()) {
      root_ = Json(std::forward<V>(value));
      return &root_;
    }
    Json& parent = *open_.back();
    if (parent.is_array()) {
      auto& items = parent.get_ref<Json::array_t&>();
      items.emplace_back(std::forward<V>(value));
      return &items.back();
    }
    auto& members = static_cast<Json::object_t::Container&>(parent.get_ref<Json::object_t&>());
    members.emplace_back(std::move(key_), Json(std::forward<V>(value)));
    return &members.back().second;
  }
  Json root_;
  std::vector<Json*> open_;
  string_t key_;
};

void check_guards(std::string_view text, const std::string& label, int max_depth) {
  // The parser takes a NUL byte for the end of the text, which would let
  // anything after one pass unread; JSON has no place for a raw NUL at all.
  if (const auto nul = text.find('\0'); nul != std::string_view::npos) {
    throw Error(ErrorKind::kInvalidInput, "invalid JSON: a NUL byte at byte " + std::to_string(nul),
                ErrorContext{label, {}, {}}, "the file is corrupt");
  }
  GuardSax guard(label, max_depth);
  nlohmann::json::sax_parse(text.begin(), text.end(), &guard, nlohmann::json::input_format_t::json,
                            /*strict=*/true, /*ignore_comments=*/false);
}

}  // namespace

nlohmann::json parse_json_strict(std::string_view text, const std::string& label, int max_depth) {
  check_guards(text, label, max_depth);
  return nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/true,
                               /*ignore_comments=*/false);
}

nlohmann::ordered_json parse_json_strict_ordered(std::string_view text, const std::string& label,
                                                 int max_depth) {
  check_guards(text, label, max_depth);
  OrderedBuilder builder;
  nlohmann::ordered_json::sax_parse(text.begin(), text.end(), &builder,
                                    nlohmann::ordered_json::input_format_t::json,
                                    /*strict=*/true, /*ignore_comments=*/false);
  return builder.take();
}

void check_json_object_strict(std::string_view text, const std::string& label, int max_depth) {
  check_guards(text, label, max_depth);
  // The text is one valid JSON value: its first character says which kind.
  std::string_view rest = text;
  if (rest.starts_with("\xEF\xBB\xBF")) rest.remove_prefix(3);  // a byte order mark, which the parser skips
  const auto first = rest.find_first_not_of(" \t\n\r");
  if (first == std::string_view::npos || rest[first] != '{') {
    throw Error(ErrorKind::kInvalidInput, "expected a JSON object", ErrorContext{label, {}, {}});
  }
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
