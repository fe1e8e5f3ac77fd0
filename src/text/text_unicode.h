// Unicode for the tokenizers: UTF-8 decoding that never fails, codepoint classes (general category, White_Space)
// from the generated tables, and NFC normalization. Splitting text into pre-tokens is pretokenizer.h's job.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "text_unicode_tables.h"

namespace r1 {

// Major general-category class of a codepoint, as the regex classes \p{L}, \p{N}, ... see it.
enum class CharClass : uint8_t {
  kUnassigned = 0,  // Cn
  kLetter = 1,      // L*
  kNumber = 2,      // N*
  kPunctuation = 3, // P*
  kSymbol = 4,      // S*
  kMark = 5,        // M*
  kSeparator = 6,   // Z*
  kOther = 7,       // Cc, Cf, Cs, Co
};

inline constexpr uint8_t kCharClassMask = 0x07;
inline constexpr uint8_t kWhitespaceFlag = 0x08;  // Unicode White_Space property (what \s matches)
inline constexpr uint32_t kMaxCodepoint = 0x10FFFF;
inline constexpr uint32_t kReplacementCharacter = 0xFFFD;

// Flags byte of a codepoint: CharClass in the low 3 bits, kWhitespaceFlag.
inline uint8_t codepoint_flags(uint32_t cp) {
  if (cp > kMaxCodepoint) return 0;
  const uint32_t block = unicode_tables::kFlagsStage1[cp >> unicode_tables::kFlagsBlockShift];
  return unicode_tables::kFlagsStage2[(block << unicode_tables::kFlagsBlockShift) |
                                      (cp & ((1u << unicode_tables::kFlagsBlockShift) - 1))];
}
inline CharClass char_class(uint32_t cp) { return static_cast<CharClass>(codepoint_flags(cp) & kCharClassMask); }
inline bool is_whitespace(uint32_t cp) { return (codepoint_flags(cp) & kWhitespaceFlag) != 0; }

std::string_view unicode_version();

// Decodes one codepoint at text[pos] and advances pos. Malformed input (bad lead byte, truncated or overlong
// sequence, surrogate, > U+10FFFF) yields U+FFFD and consumes exactly one byte, as llama.cpp does, so every
// byte of the input belongs to exactly one decoded codepoint.
uint32_t decode_utf8(std::string_view text, size_t* pos);

// Length of the UTF-8 sequence a lead byte announces (1 for continuation or invalid bytes).
inline size_t utf8_sequence_length(uint8_t lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  if ((lead & 0xF8) == 0xF0) return 4;
  return 1;
}

void append_utf8(std::string* out, uint32_t cp);
std::string codepoint_to_utf8(uint32_t cp);

// Number of bytes at the end of text that form an incomplete (but so far valid) UTF-8 sequence: 0 when text
// ends on a character boundary. Used by the streaming detokenizer to hold those bytes back.
size_t incomplete_utf8_suffix(std::string_view text);

uint8_t combining_class(uint32_t cp);
// Unicode Normalization Form C. Malformed UTF-8 is passed through as U+FFFD-free raw bytes are not
// representable: each malformed byte is kept as is (the text is not otherwise changed around it).
std::string normalize_nfc(std::string_view text);

}  // namespace r1
