// paramdelta apply: new base + scale · Δ.
#include "command.h"
#include "common_options.h"
#include "paramdelta/operations.h"
#include "paramdelta/option_values.h"

namespace paramdelta::cli {
namespace {

std::function<int()> setup(CLI::App& app) {
  struct State {
    ApplyOptions options;
    std::string output, dtype = "auto", vocab = "error";
    SharedFlags flags;
  };
  auto s = std::make_shared<State>();
  app.add_option("--base,--base-model", s->options.base,
                 "The new base model (directory, .safetensors file or cached Hub id)")
      ->required();
  app.add_option("--delta,--delta-path", s->options.delta,
                 "Delta written by 'paramdelta compute' or 'combine'")
      ->required();
  app.add_option(
         "-o,--output", s->output,
         "Model to write: an HF model directory, or a single file when the name ends with .safetensors")
      ->required();
  app.add_option("--scale", s->options.scale, "Multiply the delta by this factor (default 1)");
  app.add_option("--dtype", s->dtype,
                 "Output dtype: auto (each tensor keeps the new base's) | bf16 | f16 | f32");
  app.add_option(
      "--vocab-mismatch", s->vocab,
      "error (default) | overlap: apply to the shared embedding/head rows when the vocabularies differ");
  app.add_flag("--allow-non-finite", s->options.allow_non_finite,
               "Write NaN/infinite results instead of failing");
  app.add_flag("--allow-architecture-mismatch", s->options.allow_architecture_mismatch,
               "Accept a new base whose architecture differs from the delta's base");
  s->flags.add_to(app, true);
  return [s]() {
    s->options.output = s->output;
    s->options.dtype = parse_float_dtype(s->dtype, "dtype");
    s->options.vocab_mismatch = parse_vocab_mismatch(s->vocab);
    s->options.run = s->flags.run_options();
    print_summary(apply_delta(s->options), s->flags);
    return 0;
  };
}

const CommandRegistrar registrar{
    {"apply", "Apply a delta to a (new) base model: base + scale·Δ", setup, {"apply-delta"}}};

}  // namespace
}  // namespace paramdelta::cli
