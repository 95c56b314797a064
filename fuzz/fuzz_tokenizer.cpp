// tokenizer.json through Tokenizer::from_files: any bytes give a tokenizer or
// a paramdelta::Error. An accepted tokenizer must then encode and decode a few
// texts (ASCII, special-looking, multi-byte UTF-8) without crashing, and every
// id it returns must be one it can name.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.h"
#include "paramdelta/tokenizer.h"

using namespace paramdelta;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto path = fuzz::scratch_dir() / "tokenizer.json";
  fuzz::write_bytes(path, std::string_view(reinterpret_cast<const char*>(data), size));
  fuzz::expect_clean([&] {
    const Tokenizer tokenizer = Tokenizer::from_files(path);
    for (std::string_view text :
         {std::string_view("Hello world"), std::string_view(" a  b\tc\n"),
          std::string_view("<s>[INST] hi </s>"), std::string_view("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80 x"),
          std::string_view("")}) {
      for (bool special : {true, false}) {
        const std::vector<std::int32_t> ids = tokenizer.encode(text, special);
        for (std::int32_t id : ids) fuzz::check(id >= 0, "token ids are non-negative");
        (void)tokenizer.decode(ids, false);
        (void)tokenizer.decode(ids, true);
      }
    }
    const std::size_t n = tokenizer.vocab_size();
    std::vector<std::int32_t> all;
    for (std::size_t id = 0; id < n && id < 300; ++id) all.push_back(static_cast<std::int32_t>(id));
    (void)tokenizer.decode(all, false);
    (void)tokenizer.chat_template();
  });
  return 0;
}
