// paramdelta analyze: how large is a delta, and how does it line up with a new
// base's drift and with other deltas?
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <numeric>

#include "command.h"
#include "common_options.h"
#include "paramdelta/operations.h"

namespace paramdelta::cli {
namespace {

// What the table is sorted by: the most telling comparison present.
struct Ranking {
  const char* what;
  double (*key)(const TensorAnalysis&);  // larger first; NaN for tensors without it
};

Ranking ranking_for(const TensorAnalysis& total) {
  if (total.drift)
    return {"largest drift ratio", [](const TensorAnalysis& t) { return t.drift ? t.drift->ratio : NAN; }};
  if (total.other)
    return {"lowest cosine with the other delta",
            [](const TensorAnalysis& t) { return t.other ? -t.other->cosine : NAN; }};
  if (total.base)
    return {"largest relative change", [](const TensorAnalysis& t) { return t.relative_change(); }};
  return {"largest norm", [](const TensorAnalysis& t) { return t.elements > 0 ? t.delta_norm : NAN; }};
}

void print_cell(double value, bool present) {
  if (present) {
    std::printf(" %12.4g", value);
  } else {
    std::printf(" %12s", "-");
  }
}

void print_table(const AnalyzeReport& report, std::size_t top, bool all) {
  const TensorAnalysis& total = report.total;
  std::vector<std::size_t> order(report.tensors.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  const Ranking ranking = ranking_for(total);
  std::erase_if(order, [&](std::size_t i) { return std::isnan(ranking.key(report.tensors[i])); });
  if (!all) {
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return ranking.key(report.tensors[a]) > ranking.key(report.tensors[b]);
    });
    if (order.size() > top) order.resize(top);
    std::printf("the %zu tensors with the %s (--all lists every tensor in order):\n", order.size(),
                ranking.what);
  }
  std::printf("%-48s %12s %12s", "tensor", "elements", "norm(delta)");
  if (total.base) std::printf(" %12s", "rel.change");
  if (total.drift) std::printf(" %12s %12s", "drift/delta", "cos(drift)");
  if (total.other) std::printf(" %12s %12s", "other/delta", "cos(other)");
  std::printf("\n");
  for (std::size_t i : order) {
    const TensorAnalysis& t = report.tensors[i];
    std::printf("%-48s %12llu %12.4g", t.name.c_str(), static_cast<unsigned long long>(t.elements),
                t.delta_norm);
    if (total.base) print_cell(t.relative_change(), t.base.has_value());
    if (total.drift) {
      print_cell(t.drift ? t.drift->ratio : 0, t.drift.has_value());
      print_cell(t.drift ? t.drift->cosine : 0, t.drift.has_value());
    }
    if (total.other) {
      print_cell(t.other ? t.other->ratio : 0, t.other.has_value());
      print_cell(t.other ? t.other->cosine : 0, t.other.has_value());
    }
    std::printf("\n");
  }
}

void print_comparison(const char* label, const char* vector, const VectorComparison& c) {
  std::printf(
      "%-12s norm(%s) = %.6g = %.4g x norm(delta); cos(delta, %s) = %.4f; opposite signs in %.1f%% of "
      "the elements where both are non-zero\n",
      label, vector, c.norm, c.ratio, vector, c.cosine, 100 * c.opposite_signs);
}

void print_totals(const AnalyzeReport& report) {
  const TensorAnalysis& t = report.total;
  std::printf(
      "\ndelta:       %llu elements in %llu tensors; norm(delta) = %.6g; max |delta| = %.4g; %.2f%% zero\n",
      static_cast<unsigned long long>(t.elements), static_cast<unsigned long long>(report.summary.tensors),
      t.delta_norm, t.max_abs_delta,
      t.elements > 0 ? 100.0 * static_cast<double>(t.zero_elements) / static_cast<double>(t.elements) : 0.0);
  if (t.base) {
    std::printf("base:        norm(base) = %.6g; relative change norm(delta)/norm(base) = %.4g%s\n",
                t.base->norm, t.relative_change(),
                report.base_matches_manifest == false ? " (not the delta's own base)" : "");
  }
  if (t.drift) print_comparison("drift:", "new base - base", *t.drift);
  if (t.other) print_comparison("other delta:", "other delta", *t.other);
}

std::function<int()> setup(CLI::App& app) {
  struct State {
    AnalyzeOptions options;
    SharedFlags flags;
    std::size_t top = 20;
    bool all = false;
  };
  auto s = std::make_shared<State>();
  app.add_option("--delta", s->options.delta, "Delta to analyze")->required();
  app.add_option("--base", s->options.base, "Model the delta was computed from: relative change, and drift");
  app.add_option("--new-base", s->options.new_base,
                 "New base to transfer the delta to: compares its drift (new base - base) with the delta");
  app.add_option("--other-delta", s->options.other_delta,
                 "Second delta over the same tensors: its size, cosine and sign conflicts with the first");
  app.add_option("--top", s->top, "Tensors to list, the most telling first (default 20)")
      ->check(CLI::Range(0, 1 << 30));
  app.add_flag("--all", s->all, "List every tensor, in the delta's order");
  app.add_option("--html", s->options.html,
                 "Also write the report as one self-contained HTML page: charts per block, a sortable table "
                 "(given a directory: analysis.html in it)");
  app.add_flag("-f,--force", s->flags.force, "Replace the HTML page if it already exists");
  s->flags.add_to(app, false);
  return [s]() {
    s->options.run = s->flags.run_options();
    const AnalyzeReport report = analyze_delta(s->options);
    if (s->flags.json) {
      std::cout << to_json(report) << "\n";
      return 0;
    }
    if (!s->flags.quiet) {
      for (const auto& note : report.summary.notes) std::cerr << "note: " << with_flags(note) << "\n";
    }
    print_table(report, s->top, s->all);
    print_totals(report);
    if (!report.summary.output.empty()) std::printf("report:      %s\n", report.summary.output.c_str());
    return 0;
  };
}

const CommandRegistrar registrar{
    {"analyze",
     "Size of a delta, and its alignment with a new base's drift and with other deltas",
     setup,
     {}}};

}  // namespace
}  // namespace paramdelta::cli
