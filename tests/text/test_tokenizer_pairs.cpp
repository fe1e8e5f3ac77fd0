// llama.cpp's own tokenizer test pairs (fixtures/tokenizer_pairs) for qwen2 and llama-bpe, run against the full
// Qwen and Llama 3 tokenizer.json files: special tokens not parsed, nothing added.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "fixtures.h"
#include "text_test_util.h"

namespace r1 {
namespace {

struct PairSet {
  const char* vocab;   // ggml-vocab-<vocab>.gguf.{inp,out}
  const char* folder;  // fixtures/tokenizers/<folder>
};

class TokenizerPairs : public ::testing::TestWithParam<PairSet> {};

TEST_P(TokenizerPairs, ExactIds) {
  R1_REQUIRE_FIXTURES(fixtures);
  const auto base = fixtures / "tokenizer_pairs" / (std::string("ggml-vocab-") + GetParam().vocab + ".gguf");
  const std::string inp = text_test::read_text(base.string() + ".inp");
  const std::string out = text_test::read_text(base.string() + ".out");
  const BpeTokenizer& tok = text_test::hf_family_tokenizer(fixtures, GetParam().folder);

  std::vector<std::string> texts;
  const std::string sep = "\n__ggml_vocab_test__\n";
  for (size_t start = 0; start < inp.size();) {
    const size_t end = inp.find(sep, start);
    if (end == std::string::npos) break;
    texts.push_back(inp.substr(start, end - start));
    start = end + sep.size();
  }
  std::vector<std::vector<TokenId>> expected;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream ids(line);
    expected.emplace_back();
    for (TokenId id; ids >> id;) expected.back().push_back(id);
  }
  ASSERT_EQ(texts.size(), expected.size());
  int mismatches = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto got = tok.encode(texts[i], {.parse_special = false});
    if (got != expected[i] && ++mismatches <= 10) {
      ADD_FAILURE() << "text " << nlohmann::json(texts[i]).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                    << "\n  got  " << nlohmann::json(got).dump() << "\n  want " << nlohmann::json(expected[i]).dump();
    }
  }
  EXPECT_EQ(mismatches, 0) << "of " << texts.size();
}

INSTANTIATE_TEST_SUITE_P(Fixtures, TokenizerPairs,
                         ::testing::Values(PairSet{"qwen2", "qwen3"}, PairSet{"llama-bpe", "llama3"}),
                         [](const auto& info) { return std::string(info.param.folder); });

}  // namespace
}  // namespace r1
