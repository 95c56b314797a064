#include "eval/unicode_nfc.h"

#include <algorithm>
#include <vector>

#include "eval/unicode_nfc_tables.h"
#include "eval/unicode_utf8.h"

namespace paramdelta::tok {

namespace {

using namespace nfc_data;

// Hangul syllables are composed of jamo by arithmetic (Unicode chapter 3.12).
constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr char32_t kLCount = 19, kVCount = 21, kTCount = 28;
constexpr char32_t kNCount = kVCount * kTCount, kSCount = kLCount * kNCount;

std::uint8_t combining_class(char32_t c) {
  if (c < 0x300) return 0;
  const CombiningClass* end = kCombiningClasses + kCombiningClassCount;
  const CombiningClass* it = std::lower_bound(
      kCombiningClasses, end, c, [](const CombiningClass& e, char32_t v) { return e.code_point < v; });
  return (it != end && it->code_point == c) ? it->combining_class : 0;
}

void decompose(char32_t c, std::vector<char32_t>& out) {
  if (c >= kSBase && c < kSBase + kSCount) {
    const char32_t s = c - kSBase;
    out.push_back(kLBase + s / kNCount);
    out.push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount != 0) out.push_back(kTBase + s % kTCount);
    return;
  }
  if (c >= 0xC0) {
    const Decomposition* end = kDecompositions + kDecompositionCount;
    const Decomposition* it = std::lower_bound(
        kDecompositions, end, c, [](const Decomposition& e, char32_t v) { return e.code_point < v; });
    if (it != end && it->code_point == c) {
      out.insert(out.end(), kDecompositionData + it->offset, kDecompositionData + it->offset + it->length);
      return;
    }
  }
  out.push_back(c);
}

// The primary composite of a pair, or 0.
char32_t compose(char32_t first, char32_t second) {
  if (first >= kLBase && first < kLBase + kLCount && second >= kVBase && second < kVBase + kVCount) {
    return kSBase + ((first - kLBase) * kVCount + (second - kVBase)) * kTCount;
  }
  if (first >= kSBase && first < kSBase + kSCount && (first - kSBase) % kTCount == 0 && second > kTBase &&
      second < kTBase + kTCount) {
    return first + (second - kTBase);
  }
  const Composition* end = kCompositions + kCompositionCount;
  const Composition* it =
      std::lower_bound(kCompositions, end, std::make_pair(first, second),
                       [](const Composition& e, const std::pair<char32_t, char32_t>& v) {
                         return e.first != v.first ? e.first < v.first : e.second < v.second;
                       });
  return (it != end && it->first == first && it->second == second) ? it->composite : 0;
}

}  // namespace

std::string nfc(std::string_view text) {
  // Nothing below U+0300 decomposes (in NFC terms) or combines with what precedes it.
  bool simple = true;
  for (char ch : text) {
    if (static_cast<unsigned char>(ch) >= 0xCC) {
      simple = false;
      break;
    }
  }
  if (simple) return std::string(text);

  std::vector<char32_t> chars;
  chars.reserve(text.size());
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t n = 0;
    decompose(decode_utf8(text, pos, &n), chars);
    pos += n;
  }

  // Canonical ordering: stable sort of each run of non-starters by class.
  std::vector<std::uint8_t> classes(chars.size());
  for (std::size_t i = 0; i < chars.size(); ++i) classes[i] = combining_class(chars[i]);
  for (std::size_t i = 1; i < chars.size(); ++i) {
    if (classes[i] == 0) continue;
    std::size_t j = i;
    while (j > 0 && classes[j - 1] > classes[j]) {
      std::swap(classes[j - 1], classes[j]);
      std::swap(chars[j - 1], chars[j]);
      --j;
    }
  }

  // Canonical composition: a character joins the last starter unless a
  // character between them has class 0 or a class not lower than its own.
  std::vector<char32_t> out;
  std::vector<std::uint8_t> out_classes;
  out.reserve(chars.size());
  std::ptrdiff_t starter = -1;
  for (std::size_t i = 0; i < chars.size(); ++i) {
    const char32_t c = chars[i];
    const std::uint8_t klass = classes[i];
    if (starter >= 0) {
      const bool adjacent = static_cast<std::size_t>(starter) + 1 == out.size();
      const std::uint8_t last = out_classes.back();
      if (adjacent || (last != 0 && last < klass)) {
        if (const char32_t composite = compose(out[starter], c)) {
          out[starter] = composite;
          out_classes[starter] = combining_class(composite);
          continue;
        }
      }
    }
    if (klass == 0) starter = static_cast<std::ptrdiff_t>(out.size());
    out.push_back(c);
    out_classes.push_back(klass);
  }

  std::string result;
  result.reserve(text.size());
  for (char32_t c : out) append_utf8(result, c);
  return result;
}

}  // namespace paramdelta::tok
