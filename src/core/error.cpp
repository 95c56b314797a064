#include "paramdelta/error.h"

#include <mutex>
#include <utility>
#include <vector>

namespace paramdelta {

namespace {

struct Aliases {
  std::mutex mutex;
  std::vector<std::pair<std::string, std::string>> entries;  // local directory, shown URL
};

Aliases& aliases() {
  static Aliases a;
  return a;
}

// An option reference: kOpen field [kSeparator value] kClose, control
// characters that no message otherwise holds (an opening one without its
// close is dropped rather than printed).
constexpr char kOpen = '\x02';
constexpr char kSeparator = '\x1f';
constexpr char kClose = '\x03';

// Calls visit(field, value) for each reference and plain(text) for the text between.
template <class Plain, class Visit>
void scan_options(std::string_view text, Plain plain, Visit visit) {
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t open = text.find(kOpen, at);
    if (open == std::string_view::npos) {
      plain(text.substr(at));
      return;
    }
    plain(text.substr(at, open - at));
    const std::size_t close = text.find(kClose, open + 1);
    if (close == std::string_view::npos) {
      plain(text.substr(open + 1));  // not a reference: keep the text, drop the marker
      return;
    }
    const std::string_view inside = text.substr(open + 1, close - open - 1);
    const std::size_t sep = inside.find(kSeparator);
    if (sep == std::string_view::npos) {
      visit(inside, std::string_view{});
    } else {
      visit(inside.substr(0, sep), inside.substr(sep + 1));
    }
    at = close + 1;
  }
}

std::string library_spelling(std::string_view field, std::string_view value) {
  std::string out(field);
  if (!value.empty()) (out += '=') += value;
  return out;
}

}  // namespace

void register_path_alias(const std::string& local, const std::string& shown) {
  std::lock_guard lock(aliases().mutex);
  aliases().entries.emplace_back(local, shown);
}

std::string display_path(const std::string& text) {
  auto& a = aliases();
  std::lock_guard lock(a.mutex);
  if (a.entries.empty()) return text;
  std::string out = text;
  for (const auto& [local, shown] : a.entries) {
    for (std::size_t at = out.find(local); at != std::string::npos; at = out.find(local, at + shown.size())) {
      out.replace(at, local.size(), shown);
    }
  }
  return out;
}

std::string option_ref(std::string_view field, std::string_view value) {
  std::string out(1, kOpen);
  out += field;
  if (!value.empty()) (out += kSeparator) += value;
  out += kClose;
  return out;
}

std::string spell_options(std::string_view text, const OptionSpelling& spelling) {
  std::string out;
  out.reserve(text.size());
  scan_options(
      text, [&](std::string_view plain) { out += plain; },
      [&](std::string_view field, std::string_view value) {
        out += spelling ? spelling(field, value) : library_spelling(field, value);
      });
  return out;
}

std::vector<std::string> referenced_options(std::string_view text) {
  std::vector<std::string> fields;
  scan_options(
      text, [](std::string_view) {},
      [&](std::string_view field, std::string_view) {
        for (const auto& f : fields) {
          if (f == field) return;
        }
        fields.emplace_back(field);
      });
  return fields;
}

Error::Error(ErrorKind kind, std::string message, ErrorContext context, std::string hint)
    : std::runtime_error(spell_options(display_path(message))),
      kind_(kind),
      message_(display_path(message)),
      context_(std::move(context)),
      hint_(display_path(hint)) {
  context_.file = display_path(context_.file);
}

Error Error::with_context(const ErrorContext& outer) const {
  ErrorContext merged = context_;
  if (merged.file.empty()) merged.file = outer.file;
  if (merged.tensor.empty()) merged.tensor = outer.tensor;
  if (merged.field.empty()) merged.field = outer.field;
  return Error(kind_, message_, merged, hint_);
}

std::vector<std::string> Error::options() const {
  std::vector<std::string> fields = referenced_options(message_);
  for (auto& field : referenced_options(hint_)) {
    bool seen = false;
    for (const auto& f : fields) seen = seen || f == field;
    if (!seen) fields.push_back(std::move(field));
  }
  return fields;
}

std::string format_error_line(const Error& error, const OptionSpelling& spelling) {
  std::string line;
  const ErrorContext& c = error.context();
  if (!c.file.empty()) line += c.file + ": ";
  if (!c.tensor.empty()) line += "tensor '" + c.tensor + "': ";
  if (!c.field.empty()) line += "field '" + c.field + "': ";
  line += error.message(spelling);
  const std::string hint = error.hint(spelling);
  if (!hint.empty()) line += " (" + hint + ")";
  // One line, always: embedded newlines from nested messages are flattened.
  for (char& ch : line) {
    if (ch == '\n' || ch == '\r') ch = ' ';
  }
  return line;
}

void throw_invalid(const std::string& file, const std::string& message, const std::string& tensor,
                   const std::string& field, const std::string& hint) {
  throw Error(ErrorKind::kInvalidInput, message, ErrorContext{file, tensor, field}, hint);
}

}  // namespace paramdelta
