// paramdelta compute: Δ = post − base.
#include "command.h"
#include "common_options.h"
#include "paramdelta/operations.h"
#include "paramdelta/option_values.h"

namespace paramdelta::cli {
namespace {

std::function<int()> setup(CLI::App& app) {
  struct State {
    ComputeOptions options;
    std::string output, delta_dtype = "auto", vocab = "error";
    SharedFlags flags;
  };
  auto s = std::make_shared<State>();
  app.add_option("--base,--base-model", s->options.base,
                 "Base model: HF model directory, .safetensors file or cached Hub id")
      ->required();
  app.add_option("--post,--post-model", s->options.post,
                 "Post-trained model (the chat/instruct version of the base)")
      ->required();
  app.add_option("-o,--output", s->output,
                 "Delta to write: a directory, or a single file when the name ends with .safetensors")
      ->required();
  app.add_option(
      "--delta-dtype", s->delta_dtype,
      "auto (default): lossless, the post model's dtype plus an exact list of the elements it cannot carry; "
      "bf16|f16|f32: compact, rounded to nearest (error at most half an ulp of each delta element)");
  app.add_option("--vocab-mismatch", s->vocab,
                 "error (default) | overlap: delta on the shared embedding/head rows, post-only rows kept as "
                 "full values");
  app.add_flag("--allow-non-finite", s->options.allow_non_finite,
               "Accept NaN/infinite weights (carried exactly)");
  app.add_flag("--allow-architecture-mismatch", s->options.allow_architecture_mismatch,
               "Accept a base and post model whose config.json names different architectures (recorded in "
               "the manifest)");
  s->flags.add_to(app, true);
  return [s]() {
    s->options.output = s->output;
    s->options.delta_dtype = parse_float_dtype(s->delta_dtype, "delta_dtype");
    s->options.vocab_mismatch = parse_vocab_mismatch(s->vocab);
    s->options.run = s->flags.run_options();
    print_summary(compute_delta(s->options), s->flags);
    return 0;
  };
}

const CommandRegistrar registrar{{"compute", "Compute a delta: post − base", setup, {"compute-delta"}}};

}  // namespace
}  // namespace paramdelta::cli
