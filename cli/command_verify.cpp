// paramdelta verify: does apply(base, Δ) reproduce the expected model bit for bit?
#include <cstdio>
#include <iostream>

#include "command.h"
#include "common_options.h"
#include "paramdelta/operations.h"

namespace paramdelta::cli {
namespace {

std::function<int()> setup(CLI::App& app) {
  struct State {
    VerifyOptions options;
    SharedFlags flags;
    bool all = false;
  };
  auto s = std::make_shared<State>();
  app.add_option("--base", s->options.base, "Base model the delta is applied to")->required();
  app.add_option("--delta", s->options.delta, "Delta to check")->required();
  app.add_option("--expect", s->options.expect, "Model the result must equal (usually the post model)")
      ->required();
  app.add_option("--scale", s->options.scale, "Scale to apply the delta with (default 1)");
  app.add_flag("--all", s->all, "List every tensor, not only those that differ");
  s->flags.add_to(app, false);
  return [s]() {
    s->options.run = s->flags.run_options();
    VerifyReport report = verify_delta(s->options);
    if (s->flags.json) {
      std::cout << to_json(report) << "\n";
    } else {
      for (const auto& note : report.summary.notes) {
        if (!s->flags.quiet) std::cerr << "note: " << with_flags(note) << "\n";
      }
      for (const auto& t : report.tensors) {
        if (t.differing == 0 && !s->all) continue;
        std::printf("%-60s %12llu / %llu differ (max |diff| %g)%s%s\n", t.name.c_str(),
                    static_cast<unsigned long long>(t.differing), static_cast<unsigned long long>(t.elements),
                    t.max_abs_difference, t.note.empty() ? "" : "  ", t.note.c_str());
      }
      std::printf("verify: %s: %llu of %llu elements differ across %zu tensors (%.2f s)%s\n",
                  report.exact() ? "EXACT" : "DIFFERENT",
                  static_cast<unsigned long long>(report.total_differing),
                  static_cast<unsigned long long>(report.total_elements), report.tensors.size(),
                  report.summary.seconds,
                  report.base_matches_manifest == false
                      ? "; note: the base is not the one the delta was computed from"
                      : "");
    }
    return report.exact() ? 0 : 1;
  };
}

const CommandRegistrar registrar{
    {"verify",
     "Check that base + Δ reproduces an expected model bit for bit (exit 0 only if it does)",
     setup,
     {}}};

}  // namespace
}  // namespace paramdelta::cli
