// paramdelta combine: Σ wᵢ·Δᵢ.
#include "command.h"
#include "common_options.h"
#include "paramdelta/operations.h"

namespace paramdelta::cli {
namespace {

std::function<int()> setup(CLI::App& app) {
  struct State {
    CombineOptions options;
    std::string output, delta_dtype = "auto";
    SharedFlags flags;
  };
  auto s = std::make_shared<State>();
  app.add_option("--delta", s->options.deltas, "A delta (repeat: two or more)")->required();
  app.add_option(
      "--weight", s->options.weights,
      "Weight of each delta, in the same order (repeat; default: all 1, i.e. a sum / chained updates)");
  app.add_option("-o,--output", s->output, "Delta to write (directory, or a .safetensors file)")->required();
  app.add_option(
      "--delta-dtype", s->delta_dtype,
      "auto (each tensor keeps the first delta's dtype) | bf16 | f16 | f32; the sum is rounded once");
  s->flags.add_to(app, true);
  return [s]() {
    s->options.output = s->output;
    s->options.delta_dtype = parse_dtype_flag(s->delta_dtype, "--delta-dtype");
    s->options.run = s->flags.run_options();
    print_summary(combine_deltas(s->options), s->flags);
    return 0;
  };
}

const CommandRegistrar registrar{
    {"combine", "Combine deltas: weighted sum (fusion) or chain of updates", setup, {}}};

}  // namespace
}  // namespace paramdelta::cli
