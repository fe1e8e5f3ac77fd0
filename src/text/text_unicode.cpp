// UTF-8 decoding/encoding, table lookups and NFC normalization over the generated Unicode tables.
#include "text_unicode.h"

#include <algorithm>

namespace r1 {
namespace {

namespace ut = unicode_tables;

// Hangul syllables are composed and decomposed arithmetically (Unicode §3.12), not by table.
constexpr uint32_t kHangulSBase = 0xAC00, kHangulLBase = 0x1100, kHangulVBase = 0x1161, kHangulTBase = 0x11A7;
constexpr uint32_t kHangulLCount = 19, kHangulVCount = 21, kHangulTCount = 28;
constexpr uint32_t kHangulNCount = kHangulVCount * kHangulTCount;
constexpr uint32_t kHangulSCount = kHangulLCount * kHangulNCount;

// A malformed input byte travels through normalization as this value + the byte: above every codepoint, it
// has combining class 0 and never decomposes or composes, so it is written back unchanged.
constexpr uint32_t kRawByteBase = 0x110000;

// Smallest codepoint that has a decomposition or a non-zero combining class: text below it is already NFC.
constexpr uint32_t kFirstNonTrivialNfc = 0x300;

const ut::Decomposition* find_decomposition(uint32_t cp) {
  const ut::Decomposition* begin = ut::kDecompositions;
  const ut::Decomposition* end = begin + ut::kDecompositionCount;
  const auto* it = std::lower_bound(begin, end, cp, [](const ut::Decomposition& d, uint32_t c) { return d.codepoint < c; });
  return (it != end && it->codepoint == cp) ? it : nullptr;
}

uint32_t find_composition(uint32_t first, uint32_t second) {
  if (first >= kHangulLBase && first < kHangulLBase + kHangulLCount && second >= kHangulVBase &&
      second < kHangulVBase + kHangulVCount) {
    return kHangulSBase + ((first - kHangulLBase) * kHangulVCount + (second - kHangulVBase)) * kHangulTCount;
  }
  if (first >= kHangulSBase && first < kHangulSBase + kHangulSCount && (first - kHangulSBase) % kHangulTCount == 0 &&
      second > kHangulTBase && second < kHangulTBase + kHangulTCount) {
    return first + (second - kHangulTBase);
  }
  const ut::Composition* begin = ut::kCompositions;
  const ut::Composition* end = begin + ut::kCompositionCount;
  const auto* it = std::lower_bound(begin, end, std::make_pair(first, second), [](const ut::Composition& c, auto key) {
    return c.first < key.first || (c.first == key.first && c.second < key.second);
  });
  return (it != end && it->first == first && it->second == second) ? it->composite : 0;
}

void decompose_into(uint32_t cp, std::vector<uint32_t>* out) {
  if (cp >= kHangulSBase && cp < kHangulSBase + kHangulSCount) {
    const uint32_t s = cp - kHangulSBase;
    out->push_back(kHangulLBase + s / kHangulNCount);
    out->push_back(kHangulVBase + (s % kHangulNCount) / kHangulTCount);
    if (s % kHangulTCount != 0) out->push_back(kHangulTBase + s % kHangulTCount);
    return;
  }
  if (cp < kFirstNonTrivialNfc || cp >= kRawByteBase) {
    out->push_back(cp);
    return;
  }
  const ut::Decomposition* d = find_decomposition(cp);
  if (d == nullptr) {
    out->push_back(cp);
    return;
  }
  decompose_into(d->first, out);
  if (d->second != 0) decompose_into(d->second, out);
}

uint8_t combining_class_of(uint32_t cp) { return cp >= kRawByteBase ? 0 : combining_class(cp); }

}  // namespace

std::string_view unicode_version() { return ut::kUnicodeVersion; }

uint32_t decode_utf8(std::string_view text, size_t* pos) {
  const size_t i = *pos;
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(text[i + k]); };
  const uint8_t lead = byte(0);
  const size_t len = utf8_sequence_length(lead);
  if (len == 1) {
    *pos = i + 1;
    return lead < 0x80 ? lead : kReplacementCharacter;
  }
  if (i + len > text.size()) {
    *pos = i + 1;
    return kReplacementCharacter;
  }
  uint32_t cp = lead & (0x7F >> len);
  for (size_t k = 1; k < len; ++k) {
    if ((byte(k) & 0xC0) != 0x80) {
      *pos = i + 1;
      return kReplacementCharacter;
    }
    cp = (cp << 6) | (byte(k) & 0x3F);
  }
  static constexpr uint32_t kMinForLength[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMinForLength[len] || cp > kMaxCodepoint || (cp >= 0xD800 && cp <= 0xDFFF)) {
    *pos = i + 1;
    return kReplacementCharacter;
  }
  *pos = i + len;
  return cp;
}

void append_utf8(std::string* out, uint32_t cp) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string codepoint_to_utf8(uint32_t cp) {
  std::string s;
  append_utf8(&s, cp);
  return s;
}

size_t incomplete_utf8_suffix(std::string_view text) {
  // Walk back over at most 3 continuation bytes to the lead byte of the last sequence.
  const size_t n = text.size();
  for (size_t back = 1; back <= 4 && back <= n; ++back) {
    const auto b = static_cast<uint8_t>(text[n - back]);
    if ((b & 0xC0) == 0x80) continue;  // continuation byte
    if (b < 0x80) return 0;
    const size_t want = utf8_sequence_length(b);
    if (want == 1) return 0;           // invalid lead: it will never complete, emit it
    return want > back ? back : 0;
  }
  return 0;
}

uint8_t combining_class(uint32_t cp) {
  if (cp < kFirstNonTrivialNfc) return 0;
  const ut::CombiningClassRange* begin = ut::kCombiningClasses;
  const ut::CombiningClassRange* end = begin + ut::kCombiningClassCount;
  const auto* it = std::upper_bound(begin, end, cp, [](uint32_t c, const ut::CombiningClassRange& r) { return c < r.first; });
  if (it == begin) return 0;
  --it;
  return cp <= it->last ? it->combining_class : 0;
}

std::string normalize_nfc(std::string_view text) {
  // Fast path: text made only of codepoints below U+0300 (and ASCII in particular) is already in NFC.
  bool trivial = true;
  for (size_t i = 0; i < text.size() && trivial;) {
    const auto b = static_cast<uint8_t>(text[i]);
    if (b < 0x80) {
      ++i;
      continue;
    }
    const uint32_t cp = decode_utf8(text, &i);
    trivial = cp < kFirstNonTrivialNfc;
  }
  if (trivial) return std::string(text);

  // 1. Canonical decomposition.
  std::vector<uint32_t> cps;
  cps.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const size_t start = i;
    uint32_t cp = decode_utf8(text, &i);
    if (cp == kReplacementCharacter && i == start + 1 && static_cast<uint8_t>(text[start]) >= 0x80) {
      cp = kRawByteBase + static_cast<uint8_t>(text[start]);  // malformed byte, kept verbatim
    }
    decompose_into(cp, &cps);
  }
  // 2. Canonical ordering: stable sort of each run of non-starters by combining class.
  for (size_t i = 0; i < cps.size();) {
    if (combining_class_of(cps[i]) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < cps.size() && combining_class_of(cps[j]) != 0) ++j;
    std::stable_sort(cps.begin() + i, cps.begin() + j,
                     [](uint32_t a, uint32_t b) { return combining_class_of(a) < combining_class_of(b); });
    i = j;
  }
  // 3. Canonical composition: each character combines with the last starter unless blocked.
  std::vector<uint32_t> out;
  out.reserve(cps.size());
  size_t starter = SIZE_MAX;
  int last_class = -1;
  for (uint32_t cp : cps) {
    const int cls = combining_class_of(cp);
    if (starter != SIZE_MAX && cp < kRawByteBase && (last_class < cls || (last_class == 0 && out.size() == starter + 1))) {
      const uint32_t composite = find_composition(out[starter], cp);
      if (composite != 0) {
        out[starter] = composite;
        continue;
      }
    }
    if (cls == 0) {
      starter = cp < kRawByteBase ? out.size() : SIZE_MAX;
      last_class = 0;
    } else {
      last_class = cls;
    }
    out.push_back(cp);
  }
  std::string result;
  result.reserve(text.size());
  for (uint32_t cp : out) {
    if (cp >= kRawByteBase) {
      result.push_back(static_cast<char>(cp - kRawByteBase));
    } else {
      append_utf8(&result, cp);
    }
  }
  return result;
}

}  // namespace r1
