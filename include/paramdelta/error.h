// Errors carry the file, tensor and field they concern, so that the one place
// that prints them (format_error_line) can say exactly what is wrong and where.
#pragma once

#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace paramdelta {

enum class ErrorKind {
  kUsage,         // the caller asked for something impossible (bad flag value, missing input)
  kInvalidInput,  // an input file breaks its format's rules
  kMismatch,      // inputs are each valid but do not fit together (shapes, names)
  kNonFinite,     // NaN or infinity where finite values are required
  kIo,            // the operating system refused a read, write, rename...
  kExists,        // an output already exists and replacing it (RunOptions::force) was not asked for
  kNotFound,      // an input path does not exist
  kCancelled,     // the caller stopped the operation (RunOptions::cancel)
  kInternal,      // a bug: should never happen
};

struct ErrorContext {
  std::string file = {};    // path of the file concerned, if any
  std::string tensor = {};  // tensor name, if any
  std::string field = {};   // JSON field or other sub-location, if any
};

// The library speaks of its options by their field names (ApplyOptions::scale
// is "scale"), never by a front end's spelling of them: a message or hint that
// names an option holds option_ref(field), or option_ref(field, value) for a
// setting of it ("vocab_mismatch", "overlap"; a switch is set with "true"),
// and each front end spells these references its own way when it prints them
// (the command line as flags: "--vocab-mismatch overlap"; the Python package
// as keyword arguments: "vocab_mismatch='overlap'").
std::string option_ref(std::string_view field, std::string_view value = {});

// A front end's spelling of an option reference; `value` is empty for a bare one.
using OptionSpelling = std::function<std::string(std::string_view field, std::string_view value)>;

// `text` with each option reference spelled by `spelling`; without one, in the
// library's own words: "field", or "field=value".
std::string spell_options(std::string_view text, const OptionSpelling& spelling = {});

// The fields of the option references in `text`, in order, each once.
std::vector<std::string> referenced_options(std::string_view text);

class Error : public std::runtime_error {
 public:
  // `message` and `hint` may hold option references (option_ref); what()
  // spells them in the library's own words.
  Error(ErrorKind kind, std::string message, ErrorContext context = {}, std::string hint = {});

  ErrorKind kind() const noexcept { return kind_; }
  // The message and the hint, their option references spelled by `spelling`
  // (by default in the library's words, as in what()).
  std::string message(const OptionSpelling& spelling = {}) const { return spell_options(message_, spelling); }
  const ErrorContext& context() const noexcept { return context_; }
  std::string hint(const OptionSpelling& spelling = {}) const { return spell_options(hint_, spelling); }
  // The option fields the message and hint name (message first), each once:
  // the first is the option the error is about.
  std::vector<std::string> options() const;

  // Returns a copy with empty context fields filled from `outer`; used when an
  // error raised deep inside (e.g. a JSON field) crosses a layer that knows the file.
  Error with_context(const ErrorContext& outer) const;

 private:
  ErrorKind kind_;
  std::string message_;
  ErrorContext context_;
  std::string hint_;
};

// One line, no trailing newline: "<file>: tensor '<t>': field '<f>': <message> (<hint>)",
// the options named as `spelling` spells them.
std::string format_error_line(const Error& error, const OptionSpelling& spelling = {});

// Local directories that stand for remote locations (storage/remote_files.h):
// a path under `local` is shown as the same path under `shown` in every
// Error's file, message and hint, and by display_path.
void register_path_alias(const std::string& local, const std::string& shown);
std::string display_path(const std::string& text);

[[noreturn]] void throw_invalid(const std::string& file, const std::string& message,
                                const std::string& tensor = {}, const std::string& field = {},
                                const std::string& hint = {});

}  // namespace paramdelta
