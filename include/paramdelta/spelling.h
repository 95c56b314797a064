// Which known name a mistyped one most likely meant: for unknown commands
// and flags, and for any other closed list of names a user types.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace paramdelta {

// The candidates closest to `word`, in the candidates' order, at most `limit`
// of them; empty when none is close enough to be a plausible slip.
//
// Names are compared with case, leading dashes and '_' against '-' ignored,
// so "--Base_Model" is "--base-model". A candidate is close when it is at a
// small edit distance (insertions, deletions, substitutions and swaps of two
// neighbours: none for words of 1 or 2 characters, 1 up to 4, 2 up to 8, 3
// beyond), or
// when one of the two begins the other and the shorter has 3 or more
// characters ("--out" for "--output", "--delta-file" for "--delta"), which
// counts as distance 1. Only the candidates at the smallest distance found
// are returned.
std::vector<std::string> closest_names(std::string_view word, const std::vector<std::string>& candidates,
                                       std::size_t limit = 3);

}  // namespace paramdelta
