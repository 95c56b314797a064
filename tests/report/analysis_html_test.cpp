// The analysis page as text: what it shows for which inputs, escaping, and
// that it loads nothing from elsewhere. (tests/interop runs it in a browser.)
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "paramdelta/report.h"

namespace paramdelta {
namespace {

std::size_t count(const std::string& text, const std::string& part) {
  std::size_t n = 0;
  for (std::size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

VectorComparison comparison(double ratio, double cosine) {
  VectorComparison c;
  c.elements = 4;
  c.delta_norm = 2;
  c.norm = 2 * ratio;
  c.ratio = ratio;
  c.cosine = cosine;
  return c;
}

TensorAnalysis tensor(const std::string& name, double ratio, double cosine) {
  TensorAnalysis t;
  t.name = name;
  t.elements = 4;
  t.delta_norm = 2;
  t.base = comparison(10, 0.1);
  t.drift = comparison(ratio, cosine);
  return t;
}

AnalyzeReport drift_report() {
  AnalyzeReport r;
  r.tensors = {tensor("model.layers.0.w", 0.5, 0.2), tensor("model.layers.1.<b>&x</b>", 2.0, -0.3)};
  r.blocks = {tensor("model.layers.0", 0.5, 0.2), tensor("model.layers.1", 2.0, -0.3)};
  r.total = tensor("total", 1.25, -0.05);
  r.total.elements = 8;
  r.summary.tensors = 2;
  r.summary.notes = {"'x': a <note>"};
  r.base_matches_manifest = false;
  return r;
}

AnalyzeOptions drift_options() {
  AnalyzeOptions o;
  o.delta = "d<1>";
  o.base = "b";
  o.new_base = "n\"b";
  return o;
}

TEST(AnalysisHtml, EveryNameFromTheInputsIsEscaped) {
  const std::string html = render_analysis_html(drift_report(), drift_options());
  EXPECT_NE(html.find("model.layers.1.&lt;b&gt;&amp;x&lt;/b&gt;"), std::string::npos);
  EXPECT_EQ(html.find("<b>&x"), std::string::npos);
  EXPECT_NE(html.find("d&lt;1&gt;"), std::string::npos);
  EXPECT_NE(html.find("n&quot;b"), std::string::npos);
  EXPECT_NE(html.find("a &lt;note&gt;"), std::string::npos);
  EXPECT_EQ(count(html, "<script"), 1u);
}

TEST(AnalysisHtml, NothingIsLoadedFromElsewhere) {
  const std::string html = render_analysis_html(drift_report(), drift_options());
  EXPECT_NE(html.find("Content-Security-Policy\" content=\"default-src 'none'"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_EQ(html.find("href="), std::string::npos);
  EXPECT_EQ(html.find("://"), std::string::npos);
}

TEST(AnalysisHtml, ChartsAndColumnsFollowTheInputsGiven) {
  const std::string with_drift = render_analysis_html(drift_report(), drift_options());
  EXPECT_EQ(count(with_drift, "<figure class=\"chart\""), 4u);  // ‖Δ‖, relative change, drift, cosine
  EXPECT_NE(with_drift.find("data-key=\"drift_ratio\""), std::string::npos);
  EXPECT_EQ(count(with_drift, "<rect "), 8u);  // 2 blocks × 4 charts
  EXPECT_NE(with_drift.find("not the delta's own base"), std::string::npos);
  // A negative cosine is drawn below the zero line: its bar starts at the line.
  EXPECT_NE(with_drift.find("<title>model.layers.1: -0.3</title>"), std::string::npos);

  AnalyzeReport plain = drift_report();
  for (auto* t : {&plain.total, &plain.tensors[0], &plain.tensors[1], &plain.blocks[0], &plain.blocks[1]}) {
    t->base.reset();
    t->drift.reset();
  }
  plain.blocks.clear();
  plain.base_matches_manifest.reset();
  AnalyzeOptions options;
  options.delta = "d";
  const std::string html = render_analysis_html(plain, options);
  EXPECT_EQ(count(html, "<figure"), 0u);
  EXPECT_EQ(html.find("By block"), std::string::npos);
  EXPECT_EQ(html.find("drift"), std::string::npos);
  EXPECT_EQ(html.find("checksums"), std::string::npos);
}

TEST(AnalysisHtml, MissingAndInfiniteValuesAreDashesThatSortLast) {
  AnalyzeReport r = drift_report();
  r.tensors[0].drift->ratio = INFINITY;
  r.tensors[1].drift.reset();
  const std::string html = render_analysis_html(r, drift_options());
  EXPECT_NE(html.find("<td data-value=\"Infinity\">–</td>"), std::string::npos);
  EXPECT_NE(html.find("<td data-value=\"NaN\">–</td>"), std::string::npos);
}

}  // namespace
}  // namespace paramdelta
