// paramdelta::Error becomes an instance of the paramdelta.errors class for
// its kind, carrying the file, tensor, field, option and hint, with the
// options it names spelled as this package's keyword arguments.
#include <nanobind/stl/string.h>

#include <string_view>
#include <vector>

#include "bindings.h"
#include "paramdelta/error.h"

namespace nb = nanobind;

namespace paramdelta::python {

namespace {

const char* kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kUsage:
      return "usage";
    case ErrorKind::kInvalidInput:
      return "invalid_input";
    case ErrorKind::kMismatch:
      return "mismatch";
    case ErrorKind::kNonFinite:
      return "non_finite";
    case ErrorKind::kIo:
      return "io";
    case ErrorKind::kExists:
      return "exists";
    case ErrorKind::kNotFound:
      return "not_found";
    case ErrorKind::kCancelled:
      return "cancelled";
    case ErrorKind::kInternal:
      return "internal";
  }
  return "internal";
}

// The package's keyword arguments are the option fields' names
// (paramdelta.apply(scale=...) sets ApplyOptions::scale), so an option is
// spelled as its field; a setting of it as the keyword argument written in
// Python: "vocab_mismatch='overlap'", "allow_non_finite=True".
std::string keyword_spelling(std::string_view field, std::string_view value) {
  std::string out(field);
  if (value == "true") {
    out += "=True";
  } else if (value == "false") {
    out += "=False";
  } else if (!value.empty()) {
    ((out += "='") += value) += "'";
  }
  return out;
}

void raise_as_python(const Error& e) {
  try {
    nb::object make = nb::module_::import_("paramdelta.errors").attr("_from_core");
    const std::vector<std::string> options = e.options();
    nb::object exception =
        make(kind_name(e.kind()), format_error_line(e, keyword_spelling), e.message(keyword_spelling),
             e.context().file, e.context().tensor, e.context().field, e.hint(keyword_spelling),
             options.empty() ? std::string() : options.front());
    PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exception.ptr())), exception.ptr());
  } catch (nb::python_error& failure) {
    failure.restore();  // the errors module itself failed: report that
  }
}

}  // namespace

void bind_errors(nb::module_& m) {
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const Error& e) {
      raise_as_python(e);
    }  // anything else goes on to nanobind's own translators
  });
  // For tests of the translation: raises the library error of `kind`.
  // `option`, when given, is named at the start of the message as the library names options.
  m.def(
      "_raise_error",
      [](const std::string& kind, const std::string& message, const std::string& file,
         const std::string& tensor, const std::string& field, const std::string& hint,
         const std::string& option) {
        for (int k = 0; k <= static_cast<int>(ErrorKind::kInternal); ++k) {
          if (kind == kind_name(static_cast<ErrorKind>(k))) {
            throw Error(static_cast<ErrorKind>(k),
                        option.empty() ? message : option_ref(option) + " " + message,
                        ErrorContext{file, tensor, field}, hint);
          }
        }
        throw Error(ErrorKind::kUsage, "unknown error kind '" + kind + "'");
      },
      nb::arg("kind"), nb::arg("message"), nb::arg("file"), nb::arg("tensor"), nb::arg("field"),
      nb::arg("hint"), nb::arg("option") = "");
}

}  // namespace paramdelta::python
