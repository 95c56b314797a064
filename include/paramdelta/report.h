// Reports for people: an analysis as one self-contained HTML page (no
// external resources; a content security policy that allows nothing else to
// load; every name taken from a checkpoint escaped).
#pragma once

#include <string>

#include "paramdelta/operations.h"

namespace paramdelta {

// The whole-model numbers, a bar chart per statistic over the repeated blocks,
// and every tensor in a table that sorts by any column (click a heading, or
// open the page with "#sort=<column>&order=ascending|descending") and
// filters by name ("#filter=<text>", or the box above the table).
std::string render_analysis_html(const AnalyzeReport& report, const AnalyzeOptions& options);

}  // namespace paramdelta
