// The command line's spelling of the library's options: an error or note
// names an option by its field (ApplyOptions::scale is "scale"), and the
// command line prints the flag that sets it ("--scale").
#pragma once

#include <string>
#include <string_view>

namespace paramdelta::cli {

// "scale" -> "--scale"; with a value, the flag set to it: ("vocab_mismatch",
// "overlap") -> "--vocab-mismatch overlap", and ("allow_non_finite", "true")
// -> "--allow-non-finite".
std::string flag_spelling(std::string_view field, std::string_view value);

// `text` (an error's message, a note) with its option references spelled as flags.
std::string with_flags(std::string_view text);

}  // namespace paramdelta::cli
