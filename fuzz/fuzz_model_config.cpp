// config.json through parse_model_config: any bytes give a validated
// ModelConfig or a paramdelta::Error; an accepted config has consistent
// dimensions and its derived quantities are computable.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_support.h"
#include "paramdelta/model.h"

using namespace paramdelta;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  fuzz::expect_clean([&] {
    const ModelConfig c = parse_model_config(text, "config.json");
    fuzz::check(c.vocab_size > 0 && c.hidden_size > 0 && c.intermediate_size > 0, "positive sizes");
    fuzz::check(c.num_hidden_layers > 0 && c.num_attention_heads > 0, "positive counts");
    fuzz::check(c.num_key_value_heads > 0 && c.num_attention_heads % c.num_key_value_heads == 0,
                "key/value heads divide the heads");
    fuzz::check(c.head_dim > 0 && c.head_dim % 2 == 0, "even head dimension");
    fuzz::check(c.max_position_embeddings > 0, "positive context");
    fuzz::check(c.rms_norm_eps > 0 && std::isfinite(c.rms_norm_eps), "positive finite epsilon");
    (void)c.parameter_count();
    for (double f : rope_inverse_frequencies(c)) fuzz::check(!std::isnan(f), "RoPE frequencies are numbers");
  });
  return 0;
}
