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

Error::Error(ErrorKind kind, std::string message, ErrorContext context, std::string hint)
    : std::runtime_error(display_path(message)),
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

std::string format_error_line(const Error& error) {
  std::string line;
  const ErrorContext& c = error.context();
  if (!c.file.empty()) line += c.file + ": ";
  if (!c.tensor.empty()) line += "tensor '" + c.tensor + "': ";
  if (!c.field.empty()) line += "field '" + c.field + "': ";
  line += error.message();
  if (!error.hint().empty()) line += " (" + error.hint() + ")";
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
