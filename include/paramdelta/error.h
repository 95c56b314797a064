// Errors carry the file, tensor and field they concern, so that the one place
// that prints them (format_error_line) can say exactly what is wrong and where.
#pragma once

#include <stdexcept>
#include <string>

namespace paramdelta {

enum class ErrorKind {
  kUsage,         // the caller asked for something impossible (bad flag value, missing input)
  kInvalidInput,  // an input file breaks its format's rules
  kMismatch,      // inputs are each valid but do not fit together (shapes, names)
  kNonFinite,     // NaN or infinity where finite values are required
  kIo,            // the operating system refused a read, write, rename...
  kExists,        // an output already exists and --force was not given
  kNotFound,      // an input path does not exist
  kCancelled,     // the caller stopped the operation (RunOptions::cancel)
  kInternal,      // a bug: should never happen
};

struct ErrorContext {
  std::string file = {};    // path of the file concerned, if any
  std::string tensor = {};  // tensor name, if any
  std::string field = {};   // JSON field or other sub-location, if any
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, std::string message, ErrorContext context = {}, std::string hint = {});

  ErrorKind kind() const noexcept { return kind_; }
  const std::string& message() const noexcept { return message_; }
  const ErrorContext& context() const noexcept { return context_; }
  const std::string& hint() const noexcept { return hint_; }

  // Returns a copy with empty context fields filled from `outer`; used when an
  // error raised deep inside (e.g. a JSON field) crosses a layer that knows the file.
  Error with_context(const ErrorContext& outer) const;

 private:
  ErrorKind kind_;
  std::string message_;
  ErrorContext context_;
  std::string hint_;
};

// One line, no trailing newline: "<file>: tensor '<t>': field '<f>': <message> (<hint>)".
std::string format_error_line(const Error& error);

// Local directories that stand for remote locations (storage/remote_files.h):
// a path under `local` is shown as the same path under `shown` in every
// Error's file, message and hint, and by display_path.
void register_path_alias(const std::string& local, const std::string& shown);
std::string display_path(const std::string& text);

[[noreturn]] void throw_invalid(const std::string& file, const std::string& message,
                                const std::string& tensor = {}, const std::string& field = {},
                                const std::string& hint = {});

}  // namespace paramdelta
