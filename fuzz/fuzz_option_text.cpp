// Option values as people type them ("5GB", "bf16", "overlap", "ties") and
// the option references in messages, which carry text from files (names,
// values) around them. None may crash; a value is accepted or refused with a
// usage error that names the option; spelling references keeps every other
// byte and leaves no reference behind.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "paramdelta/error.h"
#include "paramdelta/option_values.h"

using namespace paramdelta;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto refused_naming = [](const auto& parse, const char* field) {
    try {
      parse();
    } catch (const Error& e) {
      fuzz::check(e.kind() == ErrorKind::kUsage, "a bad value is a usage error");
      fuzz::check(!e.options().empty() && e.options().front() == field, "the error names the option");
    }
  };
  refused_naming(
      [&] {
        const std::uint64_t bytes = parse_byte_size(text, "max_shard_size");
        fuzz::check(bytes >= 1, "a size is at least one byte");
      },
      "max_shard_size");
  refused_naming([&] { (void)parse_float_dtype(text, "delta_dtype"); }, "delta_dtype");
  refused_naming([&] { (void)parse_vocab_mismatch(text); }, "vocab_mismatch");
  refused_naming([&] { (void)parse_combine_method_option(text); }, "method");

  // Hostile text around a reference: the reference is spelled, the text kept.
  const std::string message = std::string(text) + option_ref("scale") + std::string(text);
  const std::string spelled = spell_options(message, [](std::string_view, std::string_view) { return "#"; });
  fuzz::check(spelled.size() <= message.size(), "spelling only removes the encoding");
  (void)referenced_options(text);
  fuzz::expect_clean([&] { throw Error(ErrorKind::kUsage, message, ErrorContext{}, std::string(text)); });
  return 0;
}
