// Unicode data for NFC (generated into unicode_nfc_tables.cpp): canonical
// combining classes, full canonical decompositions, and primary compositions.
// Hangul syllables are handled by arithmetic and are not listed.
#pragma once

#include <cstddef>
#include <cstdint>

namespace paramdelta::tok::nfc_data {

struct CombiningClass {
  char32_t code_point;
  std::uint8_t combining_class;
};
struct Decomposition {
  char32_t code_point;
  std::uint16_t offset;  // into kDecompositionData
  std::uint8_t length;
};
struct Composition {
  char32_t first;
  char32_t second;
  char32_t composite;
};

// Each table is sorted by its first field(s).
extern const CombiningClass kCombiningClasses[];
extern const std::size_t kCombiningClassCount;
extern const Decomposition kDecompositions[];
extern const std::size_t kDecompositionCount;
extern const char32_t kDecompositionData[];
extern const Composition kCompositions[];
extern const std::size_t kCompositionCount;

}  // namespace paramdelta::tok::nfc_data
