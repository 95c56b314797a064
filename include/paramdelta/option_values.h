// Option values as people write them ("5GB", "bf16", "overlap", "ties"),
// read the same way by every front end. Each throws Error(kUsage) naming the
// option field it was given (an option reference, see error.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "paramdelta/dtype.h"
#include "paramdelta/operations.h"

namespace paramdelta {

// "5GB", "500MB", "2GiB", "1000000" -> bytes: decimal units like the Hub
// (B, KB, MB, GB, TB), binary ones with an i (KiB, MiB, GiB); any case.
std::uint64_t parse_byte_size(std::string_view text, std::string_view field = "max_shard_size");

// "bf16" / "BF16" / "bfloat16", "f16" / "fp16" / "float16", "f32" / "fp32" /
// "float32"; "auto" (each tensor keeps its own dtype) -> nullopt.
std::optional<DType> parse_float_dtype(std::string_view text, std::string_view field);

// "error" or "overlap".
VocabMismatch parse_vocab_mismatch(std::string_view text, std::string_view field = "vocab_mismatch");

// "sum", "ties", "dare" or "dare-ties".
CombineMethod parse_combine_method_option(std::string_view text, std::string_view field = "method");

}  // namespace paramdelta
