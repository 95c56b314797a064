// Chat templates come from an untrusted tokenizer_config.json and are
// rendered by our Jinja subset: any text renders or fails with a
// paramdelta::Error, within libFuzzer's time and memory limits.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_support.h"
#include "paramdelta/evaluate.h"

using namespace paramdelta;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  ChatTemplateInput input;
  input.messages = {{"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello."}, {"user", "2+2?"}};
  input.bos_token = "<s>";
  input.eos_token = "</s>";
  fuzz::expect_clean([&] { (void)render_chat_template(text, input, "tokenizer_config.json"); });
  return 0;
}
