// paramdelta combine: Σ wᵢ·Δᵢ, or a TIES / DARE merge.
#include "command.h"
#include "common_options.h"
#include "paramdelta/error.h"
#include "paramdelta/operations.h"
#include "paramdelta/option_values.h"

namespace paramdelta::cli {
namespace {

std::function<int()> setup(CLI::App& app) {
  struct State {
    CombineOptions options;
    std::string output, delta_dtype = "auto", method = "sum";
    SharedFlags flags;
  };
  auto s = std::make_shared<State>();
  app.add_option("--delta", s->options.deltas, "A delta (repeat: two or more)")->required();
  app.add_option(
      "--weight", s->options.weights,
      "Weight of each delta, in the same order (repeat; default: all 1, i.e. a sum / chained updates)");
  app.add_option("--method", s->method,
                 "sum (default) | ties | dare | dare-ties: how the deltas' values of an element are merged");
  app.add_option("--density", s->options.density,
                 "ties, dare, dare-ties: fraction of each delta's elements kept (default 1)");
  CLI::Option* seed =
      app.add_option("--seed", s->options.seed, "dare, dare-ties: seed of the random drop (default 0)");
  app.add_option("-o,--output", s->output, "Delta to write (directory, or a .safetensors file)")->required();
  app.add_option(
      "--delta-dtype", s->delta_dtype,
      "auto (each tensor keeps the first delta's dtype) | bf16 | f16 | f32; the sum is rounded once");
  s->flags.add_to(app, true);
  return [s, seed]() {
    const CombineMethod method = parse_combine_method_option(s->method);
    s->options.method = method;
    if (seed->count() > 0 && method != CombineMethod::kDare && method != CombineMethod::kDareTies) {
      throw Error(ErrorKind::kUsage, "--seed applies to the dare and dare-ties methods only");
    }
    s->options.output = s->output;
    s->options.delta_dtype = parse_float_dtype(s->delta_dtype, "delta_dtype");
    s->options.run = s->flags.run_options();
    print_summary(combine_deltas(s->options), s->flags);
    return 0;
  };
}

const CommandRegistrar registrar{
    {"combine",
     "Combine deltas: weighted sum (fusion), chain of updates, or a TIES / DARE merge",
     setup,
     {}}};

}  // namespace
}  // namespace paramdelta::cli
