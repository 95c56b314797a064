// The analysis page. Everything is rendered here, so the page reads without
// scripts; the one inline script only sorts and filters the tensor table.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "core/text.h"
#include "delta/operation_support.h"
#include "paramdelta/error.h"
#include "paramdelta/report.h"

namespace paramdelta {
namespace {

std::string shown(double value) {
  if (!std::isfinite(value)) return "–";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", value);
  return buf;
}

// Full precision for sorting; NaN where a tensor has no value.
std::string exact(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", value);
  return buf;
}

// One statistic of a tensor or block: a column of the table, a bar chart.
struct Column {
  const char* key;                                     // for "#sort=" and data-key
  const char* heading;                                 // table heading
  const char* title;                                   // chart caption
  bool signed_values;                                  // a cosine: bars up and down from a zero line
  std::function<double(const TensorAnalysis&)> value;  // NaN where absent
};

std::vector<Column> columns_for(const TensorAnalysis& total) {
  std::vector<Column> c;
  c.push_back(
      {"elements", "elements", "", false, [](const TensorAnalysis& t) { return double(t.elements); }});
  c.push_back(
      {"delta_norm", "‖Δ‖", "‖Δ‖ per block", false, [](const TensorAnalysis& t) { return t.delta_norm; }});
  c.push_back(
      {"max_abs_delta", "max |Δ|", "", false, [](const TensorAnalysis& t) { return t.max_abs_delta; }});
  if (total.base) {
    c.push_back({"relative_change", "‖Δ‖ / ‖base‖", "relative change ‖Δ‖ / ‖base‖ per block", false,
                 [](const TensorAnalysis& t) { return t.relative_change(); }});
  }
  if (total.drift) {
    c.push_back({"drift_ratio", "‖drift‖ / ‖Δ‖", "drift ‖new base − base‖ / ‖Δ‖ per block", false,
                 [](const TensorAnalysis& t) { return t.drift ? t.drift->ratio : NAN; }});
    c.push_back({"drift_cosine", "cos(Δ, drift)", "cosine of Δ and the drift per block", true,
                 [](const TensorAnalysis& t) { return t.drift ? t.drift->cosine : NAN; }});
  }
  if (total.other) {
    c.push_back({"other_ratio", "‖Δ₂‖ / ‖Δ‖", "", false,
                 [](const TensorAnalysis& t) { return t.other ? t.other->ratio : NAN; }});
    c.push_back({"other_cosine", "cos(Δ, Δ₂)", "cosine of Δ and the other delta per block", true,
                 [](const TensorAnalysis& t) { return t.other ? t.other->cosine : NAN; }});
  }
  return c;
}

// Bars over the blocks, scaled to the largest magnitude (cosines: up and down
// from a zero line in the middle).
std::string bar_chart(const Column& column, const std::vector<TensorAnalysis>& blocks) {
  constexpr double kWidth = 720, kHeight = 160, kTop = 10, kBottom = 20;
  const double plot = kHeight - kTop - kBottom;
  double top = 0;
  for (const auto& b : blocks) {
    const double v = column.value(b);
    if (std::isfinite(v)) top = std::max(top, std::fabs(v));
  }
  if (top <= 0) top = 1;  // nothing to draw but the zero line
  const double zero = column.signed_values ? kTop + plot / 2 : kTop + plot;
  const double scale = column.signed_values ? plot / 2 / top : plot / top;
  const double step = kWidth / static_cast<double>(blocks.size());
  std::string svg = "<figure class=\"chart\" data-key=\"" + std::string(column.key) + "\"><figcaption>" +
                    text::markup_escape(column.title) + " (bar height: " + (column.signed_values ? "±" : "") +
                    shown(top) + ")</figcaption>\n";
  char buf[256];
  std::snprintf(buf, sizeof buf, "<svg viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"%s\">", kWidth,
                kHeight, text::markup_escape(column.title).c_str());
  svg += buf;
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    const double v = column.value(blocks[i]);
    if (!std::isfinite(v)) continue;
    const double h = std::fabs(v) * scale;
    std::snprintf(buf, sizeof buf, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\">",
                  i * step + step * 0.1, v >= 0 ? zero - h : zero, step * 0.8, h);
    svg += buf;
    svg += "<title>" + text::markup_escape(blocks[i].name) + ": " + shown(v) + "</title></rect>";
  }
  std::snprintf(buf, sizeof buf, "<line x1=\"0\" y1=\"%.2f\" x2=\"%.0f\" y2=\"%.2f\"/>", zero, kWidth, zero);
  svg += buf;
  std::snprintf(buf, sizeof buf, "<text x=\"0\" y=\"%.0f\">", kHeight - 4);
  svg += buf + text::markup_escape(blocks.front().name) + "</text>";
  std::snprintf(buf, sizeof buf, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">", kWidth, kHeight - 4);
  svg += buf + text::markup_escape(blocks.back().name) + "</text></svg></figure>\n";
  return svg;
}

std::string totals_table(const AnalyzeReport& report) {
  const TensorAnalysis& t = report.total;
  std::string rows;
  auto row = [&](const std::string& name, const std::string& value) {
    rows += "<tr><th scope=\"row\">" + name + "</th><td>" + value + "</td></tr>\n";
  };
  row("elements analysed",
      std::to_string(t.elements) + " in " + std::to_string(report.summary.tensors) + " tensors");
  row("‖Δ‖", shown(t.delta_norm));
  row("max |Δ|", shown(t.max_abs_delta));
  row("zero elements",
      shown(t.elements ? 100.0 * static_cast<double>(t.zero_elements) / static_cast<double>(t.elements) : 0) +
          " %");
  if (t.non_finite_elements)
    row("NaN or infinite elements (left out)", std::to_string(t.non_finite_elements));
  if (t.base) {
    row("‖base‖", shown(t.base->norm));
    row("relative change ‖Δ‖ / ‖base‖", shown(t.relative_change()));
  }
  if (t.drift) {
    row("drift ‖new base − base‖ / ‖Δ‖", "<strong>" + shown(t.drift->ratio) + "</strong>");
    row("cosine of Δ and the drift", shown(t.drift->cosine));
    row("opposite signs, Δ and the drift", shown(100 * t.drift->opposite_signs) + " %");
  }
  if (t.other) {
    row("‖Δ₂‖ / ‖Δ‖ (other delta)", shown(t.other->ratio));
    row("cosine of Δ and Δ₂", shown(t.other->cosine));
    row("opposite signs, Δ and Δ₂", shown(100 * t.other->opposite_signs) + " %");
  }
  if (report.base_matches_manifest) {
    row("base", *report.base_matches_manifest
                    ? "the delta's own (checksums match)"
                    : "<strong>not the delta's own base</strong> (checksums differ)");
  }
  return "<table class=\"totals\">\n" + rows + "</table>\n";
}

std::string tensor_table(const AnalyzeReport& report, const std::vector<Column>& columns) {
  std::string html = "<table id=\"tensors\">\n<thead><tr><th data-key=\"name\">tensor</th>";
  for (const auto& c : columns) html += "<th data-key=\"" + std::string(c.key) + "\">" + c.heading + "</th>";
  html += "<th data-key=\"notes\">notes</th></tr></thead>\n<tbody>\n";
  for (const auto& t : report.tensors) {
    html += "<tr><td>" + text::markup_escape(t.name) + "</td>";
    for (const auto& c : columns) {
      const double v = t.elements > 0 ? c.value(t) : NAN;
      const std::string text = std::string(c.key) == "elements" ? std::to_string(t.elements) : shown(v);
      html += "<td data-value=\"" + exact(v) + "\">" + text + "</td>";
    }
    std::string notes;
    for (const auto& n : t.notes) notes += (notes.empty() ? "" : "; ") + spell_options(n);
    html += "<td>" + text::markup_escape(notes) + "</td></tr>\n";
  }
  return html + "</tbody>\n</table>\n";
}

constexpr const char* kStyle = R"(
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
table { border-collapse: collapse; }
td, th { padding: 2px 8px; text-align: right; border-bottom: 1px solid #ddd; }
td:first-child, th:first-child, table.totals th { text-align: left; }
#tensors th { cursor: pointer; user-select: none; background: #f4f4f4; position: sticky; top: 0; }
#tensors th[aria-sort=descending]::after { content: " ▼"; } #tensors th[aria-sort=ascending]::after { content: " ▲"; }
#tensors td:last-child { text-align: left; color: #666; }
.inputs { color: #555; } .notes { color: #8a4b00; }
figure.chart { margin: 1em 0; } figure.chart svg { width: 100%; height: auto; max-height: 180px; }
rect { fill: #3b6ea5; } line { stroke: #444; stroke-width: 1; } text { font-size: 11px; fill: #555; }
)";

// Sorts the table by a column (click a heading; again to reverse), filters
// rows by name, and applies "#sort=…&order=…&filter=…" from the address.
constexpr const char* kScript = R"(
(function () {
  'use strict';
  const table = document.getElementById('tensors');
  const body = table.tBodies[0];
  const headers = Array.from(table.tHead.rows[0].cells);
  const box = document.getElementById('filter');
  const count = document.getElementById('shown');
  let current = null;
  let descending = true;
  function cellValue(row, index) {
    const cell = row.cells[index];
    return cell.dataset.value !== undefined ? parseFloat(cell.dataset.value) : cell.textContent;
  }
  function compare(x, y, desc) {
    if (typeof x === 'number') {
      if (isNaN(x)) return isNaN(y) ? 0 : 1;
      if (isNaN(y)) return -1;
      return desc ? y - x : x - y;
    }
    return desc ? y.localeCompare(x) : x.localeCompare(y);
  }
  function sortBy(key, desc) {
    const index = headers.findIndex(function (h) { return h.dataset.key === key; });
    if (index < 0) return;
    const rows = Array.from(body.rows);
    rows.sort(function (a, b) { return compare(cellValue(a, index), cellValue(b, index), desc); });
    rows.forEach(function (r) { body.appendChild(r); });
    headers.forEach(function (h) { h.removeAttribute('aria-sort'); });
    headers[index].setAttribute('aria-sort', desc ? 'descending' : 'ascending');
    current = key;
    descending = desc;
  }
  function filter(text) {
    const wanted = text.toLowerCase();
    let visible = 0;
    Array.from(body.rows).forEach(function (r) {
      r.hidden = r.cells[0].textContent.toLowerCase().indexOf(wanted) < 0;
      if (!r.hidden) visible += 1;
    });
    count.textContent = String(visible);
  }
  headers.forEach(function (h) {
    h.addEventListener('click', function () {
      sortBy(h.dataset.key, current === h.dataset.key ? !descending : h.dataset.key !== 'name');
    });
  });
  box.addEventListener('input', function () { filter(box.value); });
  const params = new URLSearchParams(window.location.hash.slice(1));
  if (params.has('sort')) sortBy(params.get('sort'), params.get('order') !== 'ascending');
  if (params.has('filter')) box.value = params.get('filter');
  filter(box.value);
  document.body.dataset.ready = 'true';
})();
)";

}  // namespace

std::string render_analysis_html(const AnalyzeReport& report, const AnalyzeOptions& options) {
  const std::vector<Column> columns = columns_for(report.total);
  std::string html =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
      "script-src 'unsafe-inline'\">\n<title>paramdelta analyze: " +
      text::markup_escape(options.delta) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n";
  html += "<h1>Delta analysis</h1>\n<p class=\"inputs\">delta <code>" + text::markup_escape(options.delta) +
          "</code>";
  if (!options.base.empty()) html += "; base <code>" + text::markup_escape(options.base) + "</code>";
  if (!options.new_base.empty())
    html += "; new base <code>" + text::markup_escape(options.new_base) + "</code>";
  if (!options.other_delta.empty())
    html += "; other delta <code>" + text::markup_escape(options.other_delta) + "</code>";
  html +=
      "<br>" + text::markup_escape(tool_identity()) + ", " + text::markup_escape(utc_timestamp()) + "</p>\n";

  html += "<h2>Whole model</h2>\n" + totals_table(report);
  if (!report.summary.notes.empty()) {
    html += "<ul class=\"notes\">\n";
    for (const auto& n : report.summary.notes)
      html += "<li>" + text::markup_escape(spell_options(n)) + "</li>\n";
    html += "</ul>\n";
  }
  if (!report.blocks.empty()) {
    html += "<h2>By block</h2>\n<p>" + std::to_string(report.blocks.size()) + " blocks, from " +
            text::markup_escape(report.blocks.front().name) + " to " +
            text::markup_escape(report.blocks.back().name) + "; hover over a bar for its value.</p>\n";
    for (const auto& c : columns) {
      if (*c.title) html += bar_chart(c, report.blocks);
    }
  }
  html +=
      "<h2>Tensors</h2>\n<p><label>filter by name <input id=\"filter\" type=\"search\"></label> "
      "<span id=\"shown\">" +
      std::to_string(report.tensors.size()) + "</span> of " + std::to_string(report.tensors.size()) +
      " shown; click a heading to sort.</p>\n";
  html += tensor_table(report, columns);
  html += "<script>" + std::string(kScript) + "</script>\n</body>\n</html>\n";
  return html;
}

}  // namespace paramdelta
