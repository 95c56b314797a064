#include "paramdelta/spelling.h"

#include <algorithm>
#include <cctype>
#include <limits>

namespace paramdelta {
namespace {

std::string normalized(std::string_view name) {
  std::size_t start = 0;
  while (start < name.size() && name[start] == '-') ++start;
  std::string out;
  out.reserve(name.size() - start);
  for (char c : name.substr(start)) {
    out += c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

// Edit distance where swapping two neighbouring characters costs 1 (the
// optimal string alignment distance).
std::size_t edit_distance(const std::string& a, const std::string& b) {
  const std::size_t n = a.size(), m = b.size();
  std::vector<std::vector<std::size_t>> d(n + 1, std::vector<std::size_t>(m + 1));
  for (std::size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= n; ++i) {
    for (std::size_t j = 1; j <= m; ++j) {
      const std::size_t substitution = d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, substitution});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[n][m];
}

bool one_begins_the_other(const std::string& a, const std::string& b) {
  const std::string& shorter = a.size() <= b.size() ? a : b;
  const std::string& longer = a.size() <= b.size() ? b : a;
  return shorter.size() >= 3 && longer.compare(0, shorter.size(), shorter) == 0;
}

std::size_t allowed_distance(std::size_t length) {
  if (length <= 2) return 0;  // one or two letters are all equally close to every other
  if (length <= 4) return 1;
  if (length <= 8) return 2;
  return 3;
}

}  // namespace

std::vector<std::string> closest_names(std::string_view word, const std::vector<std::string>& candidates,
                                       std::size_t limit) {
  const std::string typed = normalized(word);
  if (typed.empty()) return {};
  const std::size_t allowed = allowed_distance(typed.size());
  std::vector<std::size_t> distances(candidates.size(), std::numeric_limits<std::size_t>::max());
  std::size_t best = std::numeric_limits<std::size_t>::max();
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const std::string known = normalized(candidates[i]);
    if (known.empty()) continue;
    std::size_t distance = edit_distance(typed, known);
    if (distance > 0 && one_begins_the_other(typed, known)) distance = std::min<std::size_t>(distance, 1);
    if (distance > allowed) continue;
    distances[i] = distance;
    best = std::min(best, distance);
  }
  std::vector<std::string> out;
  if (best > allowed) return out;
  for (std::size_t i = 0; i < candidates.size() && out.size() < limit; ++i) {
    if (distances[i] == best) out.push_back(candidates[i]);
  }
  return out;
}

}  // namespace paramdelta
