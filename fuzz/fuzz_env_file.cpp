// A .env file in the working directory, which supplies object store
// credentials: every text either parses into names and values or is one
// paramdelta::Error naming the line; names are never empty.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_support.h"
#include "storage/settings.h"

using namespace paramdelta;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  fuzz::expect_clean([&] {
    for (const auto& [name, value] : storage::parse_env_file(text, ".env")) {
      fuzz::check(!name.empty(), "names are not empty");
      fuzz::check(name.find('=') == std::string_view::npos, "names hold no '='");
      fuzz::check(value.find('\n') == std::string_view::npos, "values hold no line break");
    }
  });
  return 0;
}
