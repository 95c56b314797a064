#include "paramdelta/option_values.h"

#include <cctype>
#include <charconv>
#include <string>
#include <utility>

#include "paramdelta/error.h"

namespace paramdelta {

namespace {

std::string upper(std::string_view text) {
  std::string up;
  for (char c : text) up += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return up;
}

}  // namespace

std::uint64_t parse_byte_size(std::string_view text, std::string_view field) {
  std::size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
  const std::string_view number = text.substr(0, i);
  const std::string unit = upper(text.substr(i));
  double value = -1;
  if (!number.empty()) {
    const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
    if (ec != std::errc{} || end != number.data() + number.size()) value = -1;
  }
  // Decimal units like the Hub, binary ones with an i.
  static constexpr std::pair<std::string_view, double> kUnits[] = {
      {"", 1},
      {"B", 1},
      {"KB", 1e3},
      {"MB", 1e6},
      {"GB", 1e9},
      {"TB", 1e12},
      {"KIB", 1024.0},
      {"MIB", 1024.0 * 1024},
      {"GIB", 1024.0 * 1024 * 1024},
  };
  double scale = 0;
  for (const auto& [name, factor] : kUnits) {
    if (unit == name) scale = factor;
  }
  const double bytes = value * scale;
  // At least one byte, and a count that fits (1.8e19 bytes is beyond any file).
  if (!(bytes >= 1) || !(bytes < 1.8e19)) {
    throw Error(ErrorKind::kUsage, option_ref(field) + " '" + std::string(text) + "' is not a size",
                ErrorContext{}, "use a positive number with a unit such as 5GB, 500MB or 2GiB");
  }
  return static_cast<std::uint64_t>(bytes);
}

std::optional<DType> parse_float_dtype(std::string_view text, std::string_view field) {
  const std::string up = upper(text);
  if (up == "AUTO") return std::nullopt;
  if (up == "BF16" || up == "BFLOAT16") return DType::kBF16;
  if (up == "F16" || up == "FP16" || up == "FLOAT16") return DType::kF16;
  if (up == "F32" || up == "FP32" || up == "FLOAT32") return DType::kF32;
  throw Error(ErrorKind::kUsage, option_ref(field) + " '" + std::string(text) + "' is not supported",
              ErrorContext{}, "use bf16, f16 or f32");
}

VocabMismatch parse_vocab_mismatch(std::string_view text, std::string_view field) {
  if (text == "error") return VocabMismatch::kError;
  if (text == "overlap") return VocabMismatch::kOverlap;
  throw Error(ErrorKind::kUsage, option_ref(field) + " '" + std::string(text) + "' is not a policy",
              ErrorContext{}, "use 'error' or 'overlap'");
}

CombineMethod parse_combine_method_option(std::string_view text, std::string_view field) {
  if (const auto method = parse_combine_method(std::string(text))) return *method;
  throw Error(ErrorKind::kUsage, option_ref(field) + " '" + std::string(text) + "' is not a method",
              ErrorContext{}, "use sum, ties, dare or dare-ties");
}

}  // namespace paramdelta
