// Tokenizer tests that need no ../shared fixtures: the small vocabulary in tests/data/tokenizers/tiny-qwen2 and
// its transformers.js reference ids, so a fresh clone still checks encoding exactly.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bpe_tokenizer.h"
#include "chat_template.h"
#include "text_test_util.h"
#include "tokenizer_load.h"

namespace r1 {
namespace {

const std::filesystem::path kDir = std::filesystem::path(R1_SOURCE_DIR) / "tests" / "data" / "tokenizers" / "tiny-qwen2";

const BpeTokenizer& bundled() {
  static const BpeTokenizer tok = load_tokenizer(kDir.string(), text_test::quiet_logger());
  return tok;
}

TEST(BundledVocab, LoadsWithSpecialTokensAndTemplate) {
  const BpeTokenizer& tok = bundled();
  EXPECT_EQ(tok.n_tokens(), 2022u);
  EXPECT_EQ(tok.bos(), 2003);
  EXPECT_EQ(tok.normalization(), Normalization::kNfc);
  EXPECT_EQ(tok.find_token("<think>"), 2005);
  EXPECT_EQ(tok.token_type(2005), TokenType::kUserDefined);
  EXPECT_EQ(tok.token_type(2003), TokenType::kControl);      // BOS: "special": true
  EXPECT_EQ(tok.token_type(2001), TokenType::kUserDefined);  // <｜User｜> is "special": false in R1-Distill-Qwen's file
  EXPECT_FALSE(tok.chat_template().empty());
}

TEST(BundledVocab, ExactIdsForEveryCase) {
  const BpeTokenizer& tok = bundled();
  const auto cases = nlohmann::json::parse(text_test::read_text(kDir / "cases.json")).at("cases");
  ASSERT_EQ(cases.size(), 50u);
  for (const auto& c : cases) {
    const std::string text = c.at("text").get<std::string>();
    EXPECT_EQ(tok.encode(text, {.parse_special = true}), c.at("plain").get<std::vector<TokenId>>()) << text;
    EXPECT_EQ(tok.encode(text, {.parse_special = true, .add_special = true}),
              c.at("with_special").get<std::vector<TokenId>>())
        << text;
  }
}

TEST(BundledVocab, UserTextCannotInjectControlTokens) {
  const BpeTokenizer& tok = bundled();
  const std::string text = "<｜begin▁of▁sentence｜>hi<think><｜end▁of▁sentence｜>";
  const std::vector<TokenId> ids = tok.encode(text, {.parse_special = false});
  for (TokenId id : ids) EXPECT_NE(tok.token_type(id), TokenType::kControl) << id;
  EXPECT_NE(std::find(ids.begin(), ids.end(), 2005), ids.end());  // user-defined tokens are always matched
  EXPECT_EQ(tok.decode(ids), text);
  const std::vector<TokenId> parsed = tok.encode(text, {.parse_special = true});
  EXPECT_EQ(parsed.front(), 2003);
  EXPECT_EQ(parsed.back(), 2000);
}

TEST(BundledVocab, RendersAndTokenizesTheChatTemplate) {
  const BpeTokenizer& tok = bundled();
  const auto messages = nlohmann::ordered_json::parse(R"([{"role": "user", "content": "Hi"}])");
  const std::string prompt = render_chat(tok, messages, {.add_generation_prompt = true}, text_test::quiet_logger());
  EXPECT_EQ(prompt, "<｜begin▁of▁sentence｜><｜User｜>Hi<｜Assistant｜><think>\n");
  const std::vector<TokenId> ids = tokenize_prompt(tok, prompt);
  EXPECT_EQ(ids.front(), 2003);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 2003), 1);
}

}  // namespace
}  // namespace r1
