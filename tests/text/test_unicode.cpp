// Tests of text_unicode: UTF-8 decoding of malformed input, codepoint classes, NFC against the Unicode
// conformance file NormalizationTest.txt (when the Debian unicode-data package is installed).
#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <sstream>

#include "text_unicode.h"
#include "text_test_util.h"
#include "utf8.h"

namespace r1 {
namespace {

std::vector<uint32_t> decode_all(std::string_view s) {
  std::vector<uint32_t> out;
  for (size_t pos = 0; pos < s.size();) out.push_back(decode_utf8(s, &pos));
  return out;
}

TEST(Unicode, DecodesValidUtf8) {
  EXPECT_EQ(decode_all("a\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80"), (std::vector<uint32_t>{'a', 0xE9, 0x4E2D, 0x1F600}));
}

TEST(Unicode, MalformedBytesBecomeOneReplacementEach) {
  // Lone continuation, truncated sequence, overlong encoding, surrogate, beyond U+10FFFF.
  EXPECT_EQ(decode_all("\x80"), (std::vector<uint32_t>{0xFFFD}));
  EXPECT_EQ(decode_all("\xE4\xB8"), (std::vector<uint32_t>{0xFFFD, 0xFFFD}));
  EXPECT_EQ(decode_all("\xC0\xAF"), (std::vector<uint32_t>{0xFFFD, 0xFFFD}));
  EXPECT_EQ(decode_all("\xED\xA0\x80"), (std::vector<uint32_t>{0xFFFD, 0xFFFD, 0xFFFD}));
  EXPECT_EQ(decode_all("\xF4\x90\x80\x80"), (std::vector<uint32_t>{0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD}));
}

// The tokenizer's decoder and core's sanitize_utf8 (the one repair function) agree on what is malformed:
// every byte decode_utf8 rejects is exactly one U+FFFD in sanitize_utf8's output.
TEST(Unicode, DecoderAgreesWithSanitize) {
  std::mt19937 rng(7);
  const uint8_t interesting[] = {0x00, 0x41, 0x7F, 0x80, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xED, 0xEF,
                                 0xF0, 0xF4, 0xF5, 0xF8, 0xFF, 0xA0, 0x9F, 0x8F, 0x90};
  for (int round = 0; round < 20000; ++round) {
    std::string s(rng() % 12, '\0');
    for (char& c : s) c = static_cast<char>(interesting[rng() % std::size(interesting)]);
    std::string decoded;
    for (size_t pos = 0; pos < s.size();) append_utf8(&decoded, decode_utf8(s, &pos));
    ASSERT_EQ(decoded, sanitize_utf8(s)) << ::testing::PrintToString(s);
  }
}

TEST(Unicode, CharClasses) {
  EXPECT_EQ(char_class('A'), CharClass::kLetter);
  EXPECT_EQ(char_class(0x4E2D), CharClass::kLetter);   // CJK ideograph (Lo)
  EXPECT_EQ(char_class(0x20000), CharClass::kLetter);  // CJK extension B, a range in UnicodeData.txt
  EXPECT_EQ(char_class('7'), CharClass::kNumber);
  EXPECT_EQ(char_class(0x2167), CharClass::kNumber);   // ROMAN NUMERAL EIGHT (Nl)
  EXPECT_EQ(char_class('!'), CharClass::kPunctuation);
  EXPECT_EQ(char_class('$'), CharClass::kSymbol);
  EXPECT_EQ(char_class(0x1F600), CharClass::kSymbol);  // emoji (So)
  EXPECT_EQ(char_class(0x0301), CharClass::kMark);
  EXPECT_EQ(char_class(0x3000), CharClass::kSeparator);
  EXPECT_EQ(char_class(0x200D), CharClass::kOther);    // ZERO WIDTH JOINER (Cf)
  EXPECT_EQ(char_class(0x0378), CharClass::kUnassigned);
  for (uint32_t ws : {0x09u, 0x0Au, 0x0Du, 0x20u, 0x85u, 0xA0u, 0x2028u, 0x3000u}) EXPECT_TRUE(is_whitespace(ws)) << ws;
  for (uint32_t nws : {0x200Bu, 0xFEFFu, 0x41u, 0x180Eu}) EXPECT_FALSE(is_whitespace(nws)) << nws;
  EXPECT_EQ(unicode_version(), "15.0.0");
}

TEST(Unicode, IncompleteSuffix) {
  EXPECT_EQ(incomplete_utf8_suffix("abc"), 0u);
  EXPECT_EQ(incomplete_utf8_suffix("ab\xE4"), 1u);
  EXPECT_EQ(incomplete_utf8_suffix("ab\xE4\xB8"), 2u);
  EXPECT_EQ(incomplete_utf8_suffix("ab\xE4\xB8\xAD"), 0u);
  EXPECT_EQ(incomplete_utf8_suffix("\xF0\x9F\x98"), 3u);
  EXPECT_EQ(incomplete_utf8_suffix("\x80"), 0u);
}

TEST(Unicode, NfcExamples) {
  EXPECT_EQ(normalize_nfc("A\xCC\x8A"), "\xC3\x85");                  // A + combining ring -> Å
  EXPECT_EQ(normalize_nfc("\xE2\x84\xAB"), "\xC3\x85");               // ANGSTROM SIGN -> Å (singleton)
  EXPECT_EQ(normalize_nfc("\xE1\x84\x80\xE1\x85\xA1"), "\xEA\xB0\x80");  // Hangul L+V -> 가
  EXPECT_EQ(normalize_nfc("plain ascii"), "plain ascii");
  EXPECT_EQ(normalize_nfc("a\xFF\xCC\x8A"), "a\xFF\xCC\x8A");  // a malformed byte blocks composition, kept as is
}

std::string cps_to_utf8(const std::string& field) {
  std::istringstream in(field);
  std::string hex;
  std::string out;
  while (in >> hex) append_utf8(&out, static_cast<uint32_t>(std::stoul(hex, nullptr, 16)));
  return out;
}

TEST(Unicode, NfcConformance) {
  const char* path = "/usr/share/unicode/NormalizationTest.txt.bz2";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no " << path << " (Debian package unicode-data)";
  FILE* pipe = ::popen((std::string("bzcat ") + path).c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  char line[4096];
  int checked = 0;
  int failures = 0;
  while (std::fgets(line, sizeof(line), pipe) != nullptr) {
    if (line[0] == '#' || line[0] == '@' || line[0] == '\n') continue;
    std::vector<std::string> cols;
    std::string s(line);
    for (size_t start = 0; cols.size() < 5;) {
      const size_t semi = s.find(';', start);
      if (semi == std::string::npos) break;
      cols.push_back(cps_to_utf8(s.substr(start, semi - start)));
      start = semi + 1;
    }
    if (cols.size() < 5) continue;
    // NFC: c2 == toNFC(c1) == toNFC(c2) == toNFC(c3);  c4 == toNFC(c4) == toNFC(c5)
    const std::pair<int, int> checks[] = {{0, 1}, {1, 1}, {2, 1}, {3, 3}, {4, 3}};
    for (auto [from, want] : checks) {
      if (normalize_nfc(cols[from]) != cols[want] && ++failures <= 10) ADD_FAILURE() << "NFC mismatch: " << line;
    }
    ++checked;
  }
  ::pclose(pipe);
  EXPECT_GT(checked, 15000);
  EXPECT_EQ(failures, 0);
}

}  // namespace
}  // namespace r1
