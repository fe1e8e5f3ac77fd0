// Pre-tokenizer selection and the hand-written splitters. Each splitter is a direct transcription of its regex
// (alternatives tried in order at each position, greedy, with the backtracking the regex would do written out),
// so that the PCRE2 oracle in tests/text agrees byte for byte.
#include "pretokenizer.h"

#include <algorithm>
#include <array>
#include <utility>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <fmt/format.h>

#include "error.h"
#include "text_unicode.h"

namespace r1 {

// Facts carried over from the published tokenizer.json files and llama.cpp's llama-vocab.cpp. The Llama 3 and
// Qwen2 patterns are written with explicit case classes instead of (?i:...), as llama.cpp does; the two mean
// the same for these ASCII contractions.
const char kGpt2Pattern[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
const char kLlama3Pattern[] =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char kQwen2Pattern[] =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char* const kDeepSeekV3Patterns[3] = {
    "\\p{N}{1,3}",
    "[一-龥぀-ゟ゠-ヿ]+",
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| "
    "?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
};

namespace {

// The original tokenizer.json spellings, recognised by from_regexes.
constexpr std::string_view kLlama3PatternHf =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|"
    "\\s+(?!\\S)|\\s+";
constexpr std::string_view kQwen2PatternHf =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|"
    "\\s+(?!\\S)|\\s+";

const std::vector<std::string> kDeepSeekLlmPatterns = {
    "[\r\n]",
    "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+",
    "\\s?[!-/:-~！-／：-～‘-‟　-。]+",
    "\\s+$",
    "[一-龥ࠀ-一가-퟿]+",
    "\\p{N}+",
};
const std::vector<std::string> kDeepSeekCoderPatterns = {
    "[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", "[一-龥ࠀ-一가-퟿]+", "\\p{N}",
};
// llama.cpp's LLAMA_VOCAB_PRE_TYPE_DEFAULT, used when a GGUF has no `tokenizer.ggml.pre`.
const std::vector<std::string> kDefaultPatterns = {
    "[\\p{P}\\$\\+<=>\\^~\\|]+",
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
    "\\p{N}+",
    "[0-9][0-9][0-9]",
};

struct NamedPreTokenizer {
  std::string_view name;
  PreTokenizerKind kind;
  const std::vector<std::string>* patterns;  // kRegex only
};

constexpr std::array<std::string_view, 11> kKnownNames = {
    "qwen2", "deepseek-r1-qwen", "llama3", "llama-v3", "llama-bpe", "deepseek-v3",
    "gpt-2", "gpt2",  "deepseek-llm",     "deepseek-coder", "default",
};

NamedPreTokenizer lookup_name(std::string_view name) {
  if (name == "qwen2" || name == "deepseek-r1-qwen") return {name, PreTokenizerKind::kQwen2, nullptr};
  if (name == "llama3" || name == "llama-v3" || name == "llama-bpe") return {name, PreTokenizerKind::kLlama3, nullptr};
  if (name == "deepseek-v3") return {name, PreTokenizerKind::kDeepSeekV3, nullptr};
  if (name == "gpt-2" || name == "gpt2") return {name, PreTokenizerKind::kGpt2, nullptr};
  if (name == "deepseek-llm") return {name, PreTokenizerKind::kRegex, &kDeepSeekLlmPatterns};
  if (name == "deepseek-coder") return {name, PreTokenizerKind::kRegex, &kDeepSeekCoderPatterns};
  if (name == "default") return {name, PreTokenizerKind::kRegex, &kDefaultPatterns};
  throw Error(fmt::format("unknown pre-tokenizer '{}' (known: {})", name, fmt::join(kKnownNames, ", ")))
      .key("tokenizer.ggml.pre");
}

std::vector<std::string> patterns_of(PreTokenizerKind kind) {
  switch (kind) {
    case PreTokenizerKind::kGpt2: return {kGpt2Pattern};
    case PreTokenizerKind::kLlama3: return {kLlama3Pattern};
    case PreTokenizerKind::kQwen2: return {kQwen2Pattern};
    case PreTokenizerKind::kDeepSeekV3: return {kDeepSeekV3Patterns[0], kDeepSeekV3Patterns[1], kDeepSeekV3Patterns[2]};
    case PreTokenizerKind::kRegex: break;
  }
  return {};
}

std::string_view kind_name(PreTokenizerKind kind) {
  switch (kind) {
    case PreTokenizerKind::kGpt2: return "gpt-2";
    case PreTokenizerKind::kLlama3: return "llama-bpe";
    case PreTokenizerKind::kQwen2: return "qwen2";
    case PreTokenizerKind::kDeepSeekV3: return "deepseek-v3";
    case PreTokenizerKind::kRegex: return "regex";
  }
  return "?";
}

// ---- The hand-written splitters -------------------------------------------------------------------------

// Text decoded once into codepoints with their flags and byte offsets (offsets has one extra entry: the end).
struct Codepoints {
  std::vector<uint32_t> cps;
  std::vector<uint8_t> flags;
  std::vector<size_t> offsets;

  explicit Codepoints(std::string_view text) {
    cps.reserve(text.size());
    flags.reserve(text.size());
    offsets.reserve(text.size() + 1);
    for (size_t pos = 0; pos < text.size();) {
      offsets.push_back(pos);
      const uint32_t cp = decode_utf8(text, &pos);
      cps.push_back(cp);
      flags.push_back(codepoint_flags(cp));
    }
    offsets.push_back(text.size());
  }
  size_t size() const { return cps.size(); }
  CharClass cls(size_t i) const { return static_cast<CharClass>(flags[i] & kCharClassMask); }
  bool letter(size_t i) const { return cls(i) == CharClass::kLetter; }
  bool number(size_t i) const { return cls(i) == CharClass::kNumber; }
  bool space(size_t i) const { return (flags[i] & kWhitespaceFlag) != 0; }
  bool newline(size_t i) const { return cps[i] == '\r' || cps[i] == '\n'; }
  // [^\s\p{L}\p{N}]
  bool other(size_t i) const { return !space(i) && !letter(i) && !number(i); }
  bool punct_or_symbol(size_t i) const { return cls(i) == CharClass::kPunctuation || cls(i) == CharClass::kSymbol; }
  bool letter_or_mark(size_t i) const { return letter(i) || cls(i) == CharClass::kMark; }
};

using CpSpan = std::pair<size_t, size_t>;  // codepoint indices [first, second)

template <typename Pred>
size_t run_end(const Codepoints& t, size_t pos, size_t end, Pred pred) {
  while (pos < end && pred(pos)) ++pos;
  return pos;
}

// The three whitespace alternatives shared by the llama3 and deepseek-v3 patterns:
//   \s*[\r\n]+ | \s+(?!\S) | \s+   (with_newline_rule) — gpt2 has only the last two.
// Returns the match end at pos (pos is whitespace).
size_t match_whitespace(const Codepoints& t, size_t pos, size_t end, bool with_newline_rule) {
  const size_t ws_end = run_end(t, pos, end, [&](size_t i) { return t.space(i); });
  if (with_newline_rule) {
    // Greedy \s* backs off to the last \r or \n of the run, then [\r\n]+ takes it.
    for (size_t i = ws_end; i > pos; --i) {
      if (t.newline(i - 1)) return i;
    }
  }
  if (ws_end == end) return ws_end;         // (?!\S) holds at the end of the piece
  if (ws_end - pos >= 2) return ws_end - 1;  // leave the last space to prefix the next word
  return ws_end;                             // \s+
}

bool ascii_contraction(const Codepoints& t, size_t pos, size_t end, bool any_case, size_t* len) {
  if (t.cps[pos] != '\'' || pos + 1 >= end) return false;
  const auto lower = [&](size_t i) -> uint32_t {
    const uint32_t c = t.cps[i];
    return (any_case && c >= 'A' && c <= 'Z') ? c + 32 : c;
  };
  const uint32_t c1 = lower(pos + 1);
  if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') {
    *len = 2;
    return true;
  }
  if (pos + 2 >= end) return false;
  const uint32_t c2 = lower(pos + 2);
  if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) {
    *len = 3;
    return true;
  }
  return false;
}

void emit(const Codepoints& t, size_t first, size_t last, std::vector<TextSpan>* out) {
  if (first < last) out->push_back({t.offsets[first], t.offsets[last]});
}

// Runs match_at over [first, last) the way an "isolated" regex split does: matches become pieces and so does
// every stretch of text between them. match_at(pos) returns the match end, or pos when nothing matches there.
template <typename MatchAt>
void split_isolated(const Codepoints& t, size_t first, size_t last, MatchAt match_at, std::vector<CpSpan>* out) {
  size_t gap = first;
  size_t pos = first;
  while (pos < last) {
    const size_t end = match_at(pos);
    if (end == pos) {
      ++pos;
      continue;
    }
    if (gap < pos) out->push_back({gap, pos});
    out->push_back({pos, end});
    pos = gap = end;
  }
  if (gap < last) out->push_back({gap, last});
}

size_t match_llama3(const Codepoints& t, size_t pos, size_t end, size_t max_digits) {
  size_t len = 0;
  if (ascii_contraction(t, pos, end, /*any_case=*/true, &len)) return pos + len;
  const auto letter = [&](size_t i) { return t.letter(i); };
  if (t.letter(pos)) return run_end(t, pos, end, letter);
  if (!t.newline(pos) && !t.number(pos) && pos + 1 < end && t.letter(pos + 1)) return run_end(t, pos + 1, end, letter);
  if (t.number(pos)) {
    const size_t digits_end = run_end(t, pos, std::min(end, pos + max_digits), [&](size_t i) { return t.number(i); });
    return digits_end;
  }
  size_t start = pos;
  if (t.cps[pos] == ' ' && pos + 1 < end && t.other(pos + 1)) start = pos + 1;
  if (t.other(start)) {
    const size_t e = run_end(t, start, end, [&](size_t i) { return t.other(i); });
    return run_end(t, e, end, [&](size_t i) { return t.newline(i); });
  }
  return match_whitespace(t, pos, end, /*with_newline_rule=*/true);
}

size_t match_gpt2(const Codepoints& t, size_t pos, size_t end) {
  size_t len = 0;
  if (ascii_contraction(t, pos, end, /*any_case=*/false, &len)) return pos + len;
  const bool space_prefix = t.cps[pos] == ' ' && pos + 1 < end;
  const auto try_class = [&](auto pred) -> size_t {
    if (space_prefix && pred(pos + 1)) return run_end(t, pos + 1, end, pred);
    if (pred(pos)) return run_end(t, pos, end, pred);
    return pos;
  };
  size_t e = try_class([&](size_t i) { return t.letter(i); });
  if (e == pos) e = try_class([&](size_t i) { return t.number(i); });
  if (e == pos) e = try_class([&](size_t i) { return t.other(i); });
  if (e == pos && t.space(pos)) e = match_whitespace(t, pos, end, /*with_newline_rule=*/false);
  return e;
}

bool ascii_punct(uint32_t c) {
  return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) || (c >= 0x7B && c <= 0x7E);
}
bool ascii_alpha(uint32_t c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

size_t match_deepseek_v3_main(const Codepoints& t, size_t pos, size_t end) {
  const uint32_t c = t.cps[pos];
  if (ascii_punct(c) && pos + 1 < end && ascii_alpha(t.cps[pos + 1])) {
    return run_end(t, pos + 1, end, [&](size_t i) { return ascii_alpha(t.cps[i]); });
  }
  const auto letter_or_mark = [&](size_t i) { return t.letter_or_mark(i); };
  if (t.letter_or_mark(pos)) return run_end(t, pos, end, letter_or_mark);
  if (!t.newline(pos) && !t.letter(pos) && !t.punct_or_symbol(pos) && pos + 1 < end && t.letter_or_mark(pos + 1)) {
    return run_end(t, pos + 1, end, letter_or_mark);
  }
  size_t start = pos;
  if (c == ' ' && pos + 1 < end && t.punct_or_symbol(pos + 1)) start = pos + 1;
  if (t.punct_or_symbol(start)) {
    const size_t e = run_end(t, start, end, [&](size_t i) { return t.punct_or_symbol(i); });
    return run_end(t, e, end, [&](size_t i) { return t.newline(i); });
  }
  if (t.space(pos)) return match_whitespace(t, pos, end, /*with_newline_rule=*/true);
  return pos;  // digits, controls, unassigned: left between matches
}

// [一-龥぀-ゟ゠-ヿ]
bool deepseek_cjk(uint32_t c) { return (c >= 0x4E00 && c <= 0x9FA5) || (c >= 0x3040 && c <= 0x30FF); }

void to_spans(const Codepoints& t, const std::vector<CpSpan>& pieces, std::vector<TextSpan>* out) {
  for (const auto& [first, last] : pieces) emit(t, first, last, out);
}

}  // namespace

void split_gpt2(std::string_view text, std::vector<TextSpan>* out) {
  const Codepoints t(text);
  std::vector<CpSpan> pieces;
  split_isolated(t, 0, t.size(), [&](size_t pos) { return match_gpt2(t, pos, t.size()); }, &pieces);
  to_spans(t, pieces, out);
}

void split_llama3(std::string_view text, size_t max_digits, std::vector<TextSpan>* out) {
  const Codepoints t(text);
  std::vector<CpSpan> pieces;
  split_isolated(t, 0, t.size(), [&](size_t pos) { return match_llama3(t, pos, t.size(), max_digits); }, &pieces);
  to_spans(t, pieces, out);
}

void split_deepseek_v3(std::string_view text, std::vector<TextSpan>* out) {
  const Codepoints t(text);
  const size_t n = t.size();
  // Stage 1: \p{N}{1,3}.
  std::vector<CpSpan> stage1;
  split_isolated(t, 0, n, [&](size_t pos) {
    return run_end(t, pos, std::min(n, pos + 3), [&](size_t i) { return t.number(i); });
  }, &stage1);
  // Stage 2: runs of CJK ideographs and kana, inside each stage-1 piece.
  std::vector<CpSpan> stage2;
  for (const auto& [first, last] : stage1) {
    // The end is copied: lambdas may not capture structured bindings before C++20 as clang 14 reads it.
    const size_t end = last;
    split_isolated(t, first, end, [&](size_t pos) {
      return run_end(t, pos, end, [&](size_t i) { return deepseek_cjk(t.cps[i]); });
    }, &stage2);
  }
  // Stage 3: the main pattern, each piece seen on its own (look-ahead stops at the piece's end).
  std::vector<CpSpan> stage3;
  for (const auto& [first, last] : stage2) {
    split_isolated(t, first, last, [&, last = last](size_t pos) { return match_deepseek_v3_main(t, pos, last); }, &stage3);
  }
  to_spans(t, stage3, out);
}

// ---- PCRE2 ------------------------------------------------------------------------------------------------

struct RegexSplitter::Compiled {
  std::vector<pcre2_code*> codes;
  ~Compiled() {
    for (pcre2_code* code : codes) pcre2_code_free(code);
  }
};

RegexSplitter::RegexSplitter(std::vector<std::string> patterns)
    : patterns_(std::move(patterns)), compiled_(std::make_unique<Compiled>()) {
  for (const std::string& pattern : patterns_) {
    int error_code = 0;
    PCRE2_SIZE error_offset = 0;
    // UCP: \s, \d and \w use Unicode properties; MATCH_INVALID_UTF: malformed bytes never match instead of
    // making pcre2_match fail, so they end up in the text between matches.
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                     PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error_code, &error_offset,
                                     nullptr);
    if (code == nullptr) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(error_code, message, sizeof(message));
      throw_error("pre-tokenizer regex '{}' rejected at offset {}: {}", pattern, error_offset,
                  reinterpret_cast<const char*>(message));
    }
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter when JIT is unavailable
    compiled_->codes.push_back(code);
  }
}

RegexSplitter::~RegexSplitter() = default;
RegexSplitter::RegexSplitter(RegexSplitter&&) noexcept = default;
RegexSplitter& RegexSplitter::operator=(RegexSplitter&&) noexcept = default;

void RegexSplitter::split(std::string_view text, std::vector<TextSpan>* out) const {
  std::vector<TextSpan> pieces{{0, text.size()}};
  if (text.empty()) return;
  std::vector<TextSpan> next;
  for (pcre2_code* code : compiled_->codes) {
    pcre2_match_data* match = pcre2_match_data_create_from_pattern(code, nullptr);
    next.clear();
    for (const TextSpan& piece : pieces) {
      const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data() + piece.begin);
      const size_t length = piece.end - piece.begin;
      size_t gap = 0;
      size_t start = 0;
      while (start < length) {
        const int rc = pcre2_match(code, subject, length, start, 0, match, nullptr);
        if (rc < 0) break;
        const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match);
        const size_t match_begin = ovector[0];
        const size_t match_end = ovector[1];
        if (match_end == match_begin) {  // empty match: step over one character
          start = match_begin + utf8_sequence_length(static_cast<uint8_t>(text[piece.begin + match_begin]));
          continue;
        }
        if (gap < match_begin) next.push_back({piece.begin + gap, piece.begin + match_begin});
        next.push_back({piece.begin + match_begin, piece.begin + match_end});
        gap = start = match_end;
      }
      if (gap < length) next.push_back({piece.begin + gap, piece.end});
    }
    pcre2_match_data_free(match);
    pieces.swap(next);
  }
  out->insert(out->end(), pieces.begin(), pieces.end());
}

// ---- PreTokenizer -----------------------------------------------------------------------------------------

PreTokenizer::PreTokenizer(PreTokenizerKind kind, std::string name, std::vector<std::string> patterns)
    : kind_(kind), name_(std::move(name)), patterns_(std::move(patterns)) {
  if (kind_ == PreTokenizerKind::kRegex) regex_ = std::make_unique<RegexSplitter>(patterns_);
}

PreTokenizer PreTokenizer::from_gguf_name(std::string_view name) {
  const NamedPreTokenizer named = lookup_name(name);
  if (named.kind == PreTokenizerKind::kRegex) return PreTokenizer(named.kind, std::string(name), *named.patterns);
  return PreTokenizer(named.kind, std::string(name), patterns_of(named.kind));
}

PreTokenizer PreTokenizer::from_kind(PreTokenizerKind kind) {
  return PreTokenizer(kind, std::string(kind_name(kind)), patterns_of(kind));
}

PreTokenizer PreTokenizer::default_for_missing_name() { return from_gguf_name("default"); }

std::span<const std::string_view> PreTokenizer::known_gguf_names() { return kKnownNames; }

PreTokenizer PreTokenizer::from_regexes(const std::vector<std::string>& patterns) {
  if (patterns.size() == 1) {
    const std::string& p = patterns[0];
    if (p == kGpt2Pattern) return from_kind(PreTokenizerKind::kGpt2);
    if (p == kLlama3Pattern || p == kLlama3PatternHf) return from_kind(PreTokenizerKind::kLlama3);
    if (p == kQwen2Pattern || p == kQwen2PatternHf) return from_kind(PreTokenizerKind::kQwen2);
  }
  if (patterns.size() == 3 && patterns[0] == kDeepSeekV3Patterns[0] && patterns[1] == kDeepSeekV3Patterns[1] &&
      patterns[2] == kDeepSeekV3Patterns[2]) {
    return from_kind(PreTokenizerKind::kDeepSeekV3);
  }
  return PreTokenizer(PreTokenizerKind::kRegex, "regex", patterns);
}

void PreTokenizer::split(std::string_view text, std::vector<TextSpan>* out) const {
  switch (kind_) {
    case PreTokenizerKind::kGpt2: return split_gpt2(text, out);
    case PreTokenizerKind::kLlama3: return split_llama3(text, 3, out);
    case PreTokenizerKind::kQwen2: return split_llama3(text, 1, out);
    case PreTokenizerKind::kDeepSeekV3: return split_deepseek_v3(text, out);
    case PreTokenizerKind::kRegex: return regex_->split(text, out);
  }
}

}  // namespace r1
