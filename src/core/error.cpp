#include "paramdelta/error.h"

namespace paramdelta {

Error::Error(ErrorKind kind, std::string message, ErrorContext context, std::string hint)
    : std::runtime_error(message),
      kind_(kind),
      message_(std::move(message)),
      context_(std::move(context)),
      hint_(std::move(hint)) {}

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
