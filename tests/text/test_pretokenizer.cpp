// Tests of the pre-tokenizers: worked examples, and the hand-written splitters checked against PCRE2 running
// the very regexes they transcribe, on random mixed-script text and on every fixture string.
#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "error.h"
#include "fixtures.h"
#include "pretokenizer.h"
#include "text_test_util.h"
#include "utf8.h"
#include "text_unicode.h"

namespace r1 {
namespace {

std::vector<std::string> pieces(const PreTokenizer& pre, std::string_view text) {
  std::vector<TextSpan> spans;
  pre.split(text, &spans);
  std::vector<std::string> out;
  for (const TextSpan& s : spans) out.emplace_back(text.substr(s.begin, s.end - s.begin));
  return out;
}

std::vector<std::string> oracle_pieces(const RegexSplitter& regex, std::string_view text) {
  std::vector<TextSpan> spans;
  regex.split(text, &spans);
  std::vector<std::string> out;
  for (const TextSpan& s : spans) out.emplace_back(text.substr(s.begin, s.end - s.begin));
  return out;
}

using Pieces = std::vector<std::string>;

TEST(PreTokenizer, Qwen2Examples) {
  const auto pre = PreTokenizer::from_gguf_name("deepseek-r1-qwen");
  EXPECT_EQ(pre.kind(), PreTokenizerKind::kQwen2);
  EXPECT_EQ(pieces(pre, "Hello world's 123!!\n\n  x"),
            (Pieces{"Hello", " world", "'s", " ", "1", "2", "3", "!!\n\n", " ", " x"}));
  EXPECT_EQ(pieces(pre, "I'LL   go\t\tnow "), (Pieces{"I", "'LL", "  ", " go", "\t", "\tnow", " "}));
}

TEST(PreTokenizer, Llama3Examples) {
  const auto pre = PreTokenizer::from_gguf_name("llama-bpe");
  EXPECT_EQ(pieces(pre, "12345 abc\r\n def"), (Pieces{"123", "45", " abc", "\r\n", " def"}));
}

TEST(PreTokenizer, DeepSeekV3Examples) {
  const auto pre = PreTokenizer::from_gguf_name("deepseek-v3");
  EXPECT_EQ(pieces(pre, "x=1234;中文字かな.Hello"),
            (Pieces{"x", "=", "123", "4", ";", "中文字かな", ".Hello"}));
}

TEST(PreTokenizer, Gpt2Examples) {
  const auto pre = PreTokenizer::from_gguf_name("gpt-2");
  EXPECT_EQ(pieces(pre, "it's  42 ok?!"), (Pieces{"it", "'s", " ", " 42", " ok", "?!"}));
}

TEST(PreTokenizer, UnknownNameListsKnownOnes) {
  try {
    (void)PreTokenizer::from_gguf_name("klingon");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("klingon"), std::string::npos) << what;
    EXPECT_NE(what.find("deepseek-v3"), std::string::npos) << what;
    EXPECT_NE(what.find("qwen2"), std::string::npos) << what;
  }
}

TEST(PreTokenizer, RegexFallbackNames) {
  for (const char* name : {"deepseek-llm", "deepseek-coder", "default"}) {
    const auto pre = PreTokenizer::from_gguf_name(name);
    EXPECT_EQ(pre.kind(), PreTokenizerKind::kRegex);
    std::string joined;
    for (const auto& p : pieces(pre, "Hello, 世界! 1234 \n end")) joined += p;
    EXPECT_EQ(joined, "Hello, 世界! 1234 \n end") << name;
  }
}

TEST(PreTokenizer, FromHfRegexesRecognisesKnownPatterns) {
  EXPECT_EQ(PreTokenizer::from_regexes({kGpt2Pattern}).kind(), PreTokenizerKind::kGpt2);
  EXPECT_EQ(PreTokenizer::from_regexes({kQwen2Pattern}).kind(), PreTokenizerKind::kQwen2);
  EXPECT_EQ(PreTokenizer::from_regexes({"\\s+|\\w+"}).kind(), PreTokenizerKind::kRegex);
}

// Codepoints chosen to exercise every class boundary of the patterns: ASCII of all kinds, contractions,
// whitespace of several kinds, accented letters and combining marks, digits of other scripts, CJK and kana
// (inside and outside DeepSeek's ranges), symbols, emoji with ZWJ, format and control characters.
const std::vector<uint32_t> kAlphabet = {
    'a', 'b', 'Z', 's', 'S', 't', 'r', 'e', 'v', 'l', 'L', 'm', 'd', 'D', '\'', '\'', '0', '5', '9', ' ', ' ', ' ',
    '\t', '\n', '\r', '\v', '\f', '.', ',', '!', '?', '-', '_', '(', ')', '[', '\\', '"', '$', '+', '<', '=', '`',
    '|', '~', '#', '@', 0x00, 0x01, 0x7F, 0xA0, 0xAD, 0xB5, 0xC0, 0xE9, 0xF8, 0x0301, 0x0308, 0x0660, 0x0669,
    0x0915, 0x093F, 0x2003, 0x2028, 0x202F, 0x3000, 0x3001, 0x3002, 0x4E00, 0x4E2D, 0x9FA5, 0x9FA6, 0x3042,
    0x30A2, 0x30FB, 0x3099, 0xAC00, 0xFF01, 0xFF21, 0x2167, 0x00B2, 0x20AC, 0x2014, 0x201C, 0x1F600, 0x1F468,
    0x200D, 0x1F469, 0xFE0F, 0x200B, 0xFEFF, 0x0378, 0x10400, 0x1D7D8, 0xE000,
};

std::string random_text(std::mt19937& rng, size_t max_len) {
  std::uniform_int_distribution<size_t> len_dist(0, max_len);
  std::uniform_int_distribution<size_t> pick(0, kAlphabet.size() - 1);
  std::string s;
  const size_t len = len_dist(rng);
  for (size_t i = 0; i < len; ++i) append_utf8(&s, kAlphabet[pick(rng)]);
  return s;
}

const std::vector<PreTokenizerKind> kHandWritten = {PreTokenizerKind::kGpt2, PreTokenizerKind::kLlama3,
                                                    PreTokenizerKind::kQwen2, PreTokenizerKind::kDeepSeekV3};

void expect_same_as_oracle(const std::vector<std::string>& texts, const char* what) {
  for (PreTokenizerKind kind : kHandWritten) {
    const auto pre = PreTokenizer::from_kind(kind);
    const RegexSplitter oracle(pre.patterns());
    int mismatches = 0;
    for (const std::string& text : texts) {
      const auto got = pieces(pre, text);
      const auto want = oracle_pieces(oracle, text);
      if (got != want && ++mismatches <= 5) {
        std::string g, w;
        for (const auto& p : got) g += "[" + p + "]";
        for (const auto& p : want) w += "[" + p + "]";
        ADD_FAILURE() << what << " " << pre.name() << "\n text: " << nlohmann::json(sanitize_utf8(text)).dump()
                      << "\n  got: " << g << "\n want: " << w;
      }
    }
    EXPECT_EQ(mismatches, 0) << what << " " << pre.name();
  }
}

TEST(PreTokenizer, HandWrittenMatchesPcre2OnRandomText) {
  std::mt19937 rng(1234);
  std::vector<std::string> texts;
  for (int i = 0; i < 20000; ++i) texts.push_back(random_text(rng, 24));
  for (int i = 0; i < 200; ++i) texts.push_back(random_text(rng, 400));
  expect_same_as_oracle(texts, "random");
}

// Malformed UTF-8 is where the splitters and PCRE2 part ways by design: r1 (like llama.cpp) reads each bad byte
// as U+FFFD, a symbol, while PCRE2 matches nothing there. What must hold: every byte lands in exactly one piece.
TEST(PreTokenizer, MalformedBytesAreCoveredExactlyOnce) {
  std::mt19937 rng(99);
  for (PreTokenizerKind kind : {PreTokenizerKind::kGpt2, PreTokenizerKind::kLlama3, PreTokenizerKind::kQwen2,
                                PreTokenizerKind::kDeepSeekV3, PreTokenizerKind::kRegex}) {
    const auto pre = kind == PreTokenizerKind::kRegex ? PreTokenizer::from_gguf_name("deepseek-llm")
                                                      : PreTokenizer::from_kind(kind);
    for (int i = 0; i < 2000; ++i) {
      std::string text = random_text(rng, 16);
      text.insert(rng() % (text.size() + 1), 1, static_cast<char>(0x80 + rng() % 128));
      std::vector<TextSpan> spans;
      pre.split(text, &spans);
      size_t pos = 0;
      for (const TextSpan& s : spans) {
        ASSERT_EQ(s.begin, pos) << pre.name();
        ASSERT_LT(s.begin, s.end) << pre.name();
        pos = s.end;
      }
      ASSERT_EQ(pos, text.size()) << pre.name();
    }
  }
}

TEST(PreTokenizer, HandWrittenMatchesPcre2OnFixtureStrings) {
  R1_REQUIRE_FIXTURES(fixtures);
  std::vector<std::string> texts;
  const auto cases = nlohmann::json::parse(text_test::read_text(fixtures / "tokenizer_cases" / "cases.json"));
  for (const auto& c : cases.at("cases")) texts.push_back(c.at("text").get<std::string>());
  for (const char* vocab : {"qwen2", "llama-bpe", "deepseek-llm", "deepseek-coder"}) {
    const std::string inp =
        text_test::read_text(fixtures / "tokenizer_pairs" / (std::string("ggml-vocab-") + vocab + ".gguf.inp"));
    const std::string sep = "\n__ggml_vocab_test__\n";
    for (size_t start = 0; start < inp.size();) {
      size_t end = inp.find(sep, start);
      if (end == std::string::npos) end = inp.size();
      texts.push_back(inp.substr(start, end - start));
      start = end + sep.size();
    }
  }
  expect_same_as_oracle(texts, "fixture");
}

}  // namespace
}  // namespace r1
