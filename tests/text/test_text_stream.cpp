// Tests of the streaming detokenizer: multi-byte characters split across tokens never come out in halves.
#include <gtest/gtest.h>

#include "fixtures.h"
#include "text_stream.h"
#include "text_test_util.h"
#include "text_unicode.h"
#include "utf8.h"

namespace r1 {
namespace {

TEST(TextStream, HoldsBackPartialCharacters) {
  // Feed "é中😀" one byte at a time through push_bytes.
  const std::string text = "a\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80z";
  TokenizerSpec spec;
  spec.tokens = {"a"};
  spec.pre_tokenizer = PreTokenizer::from_kind(PreTokenizerKind::kGpt2);
  const BpeTokenizer tokenizer(std::move(spec));
  StreamDecoder stream(tokenizer);
  std::vector<std::string> outputs;
  for (char c : text) outputs.push_back(stream.push_bytes(std::string_view(&c, 1)));
  EXPECT_EQ(outputs, (std::vector<std::string>{"a", "", "\xC3\xA9", "", "", "\xE4\xB8\xAD", "", "", "", "\xF0\x9F\x98\x80", "z"}));
  EXPECT_FALSE(stream.has_pending());
  EXPECT_EQ(stream.push_bytes("\xE4\xB8"), "");
  EXPECT_EQ(stream.finish(), "\xEF\xBF\xBD\xEF\xBF\xBD");  // an unfinished character ends as U+FFFD
  EXPECT_EQ(stream.push_bytes("\x80x"), "\xEF\xBF\xBDx");    // a stray continuation byte too
}

TEST(TextStream, TokenByTokenEqualsWholeDecode) {
  R1_REQUIRE_FIXTURES(fixtures);
  const BpeTokenizer& tok = text_test::tiny_gguf_tokenizer(fixtures, "tiny-qwen2-a-s1");
  const std::string text = "Ünïcödé 中文 😀👍🏽 <think>ok</think> done";
  const auto ids = tok.encode(text);
  StreamDecoder stream(tok);
  std::string streamed;
  for (TokenId id : ids) {
    const std::string part = stream.push(id);
    EXPECT_EQ(incomplete_utf8_suffix(part), 0u);
    EXPECT_TRUE(is_valid_utf8(part));
    streamed += part;
  }
  streamed += stream.finish();
  EXPECT_EQ(streamed, text);
  EXPECT_EQ(tok.decode(ids), text);
}

}  // namespace
}  // namespace r1
