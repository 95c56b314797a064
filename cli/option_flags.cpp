#include "option_flags.h"

#include <array>
#include <utility>

#include "paramdelta/error.h"

namespace paramdelta::cli {

namespace {

// Option field -> flag, for every option a command sets from a flag.
constexpr std::array<std::pair<std::string_view, std::string_view>, 24> kFlags{{
    {"base", "--base"},
    {"post", "--post"},
    {"delta", "--delta"},
    {"deltas", "--delta"},  // combine: --delta, repeated
    {"new_base", "--new-base"},
    {"other_delta", "--other-delta"},
    {"expect", "--expect"},
    {"output", "--output"},
    {"html", "--html"},
    {"scale", "--scale"},
    {"dtype", "--dtype"},
    {"delta_dtype", "--delta-dtype"},
    {"vocab_mismatch", "--vocab-mismatch"},
    {"allow_non_finite", "--allow-non-finite"},
    {"allow_architecture_mismatch", "--allow-architecture-mismatch"},
    {"weights", "--weight"},  // combine: --weight, repeated
    {"method", "--method"},
    {"density", "--density"},
    {"seed", "--seed"},
    {"threads", "--threads"},
    {"force", "--force"},
    {"max_shard_size", "--max-shard-size"},
    {"context", "--context"},
    {"chat_template", "--chat-template"},
}};

}  // namespace

std::string flag_spelling(std::string_view field, std::string_view value) {
  std::string flag;
  for (const auto& [f, spelled] : kFlags) {
    if (f == field) flag = spelled;
  }
  if (flag.empty()) {  // an option without an entry: the flags' own rule
    flag = "--";
    for (char c : field) flag += c == '_' ? '-' : c;
  }
  if (!value.empty() && value != "true") (flag += ' ') += value;
  return flag;
}

std::string with_flags(std::string_view text) { return spell_options(text, flag_spelling); }

}  // namespace paramdelta::cli
