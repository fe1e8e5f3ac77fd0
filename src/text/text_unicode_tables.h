// Declarations of the generated Unicode tables (text_unicode_flags.cpp and text_unicode_normalization.cpp, made by
// scripts/gen_unicode_tables.py).
// Only text_unicode.cpp reads them; everyone else uses the functions in text_unicode.h.
#pragma once

#include <cstddef>
#include <cstdint>

namespace r1::unicode_tables {

inline constexpr uint32_t kFlagsBlockShift = 7;  // 128 codepoints per stage-2 block

struct CombiningClassRange {
  uint32_t first;
  uint32_t last;
  uint8_t combining_class;
};

// A canonical decomposition of one step (second == 0 for singletons); applied recursively.
struct Decomposition {
  uint32_t codepoint;
  uint32_t first;
  uint32_t second;
};

// A primary composite: first + second compose to composite (composition exclusions already removed).
struct Composition {
  uint32_t first;
  uint32_t second;
  uint32_t composite;
};

extern const char kUnicodeVersion[];
extern const uint16_t kFlagsStage1[];
extern const uint8_t kFlagsStage2[];
extern const CombiningClassRange kCombiningClasses[];
extern const size_t kCombiningClassCount;
extern const Decomposition kDecompositions[];
extern const size_t kDecompositionCount;
extern const Composition kCompositions[];
extern const size_t kCompositionCount;

}  // namespace r1::unicode_tables
