// Small ASCII text helpers shared by the protocol code (HTTP headers, URLs,
// object store answers): case-insensitive comparison, lower-casing and
// percent-decoding, the same everywhere.
#pragma once

#include <string>
#include <string_view>

namespace paramdelta::text {

bool istarts_with(std::string_view s, std::string_view prefix);
bool iequals(std::string_view a, std::string_view b);
std::string ascii_lower(std::string_view s);
// 0..15 for a hexadecimal digit, else -1.
int hex_digit_value(char c);
// %XX escapes decoded (a broken escape stays as written); with
// `plus_is_space`, '+' is a space as in a URL's query.
std::string percent_decode(std::string_view s, bool plus_is_space);
// The five markup characters as entities, valid in XML and in HTML alike
// ("&#39;" for the apostrophe, which HTML 4 lacks as a named entity).
std::string markup_escape(std::string_view s);

}  // namespace paramdelta::text
