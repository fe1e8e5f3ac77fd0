// Exact token ids for fixtures/tokenizer_cases/cases.json: llama.cpp's ids for the tiny GGUF vocabularies and
// transformers.js's ids for the full tokenizer.json files (and the tiny Qwen2 one), in every variant.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fixtures.h"
#include "text_test_util.h"

namespace r1 {
namespace {

using nlohmann::json;

const json& cases(const std::filesystem::path& fixtures) {
  static const json parsed = json::parse(text_test::read_text(fixtures / "tokenizer_cases" / "cases.json"));
  return parsed.at("cases");
}

std::string show(const std::vector<TokenId>& ids) { return json(ids).dump(); }

// Runs every case's ids[source][name][variant] through tokenizer with options; returns the mismatch count.
int check_variant(const std::filesystem::path& fixtures, const BpeTokenizer& tokenizer, const std::string& source,
                  const std::string& name, const std::string& variant, const EncodeOptions& options) {
  int mismatches = 0;
  int checked = 0;
  for (const json& c : cases(fixtures)) {
    if (!c.contains(source) || !c.at(source).contains(name) || !c.at(source).at(name).contains(variant)) continue;
    const std::string text = c.at("text").get<std::string>();
    const auto want = c.at(source).at(name).at(variant).get<std::vector<TokenId>>();
    const auto got = tokenizer.encode(text, options);
    ++checked;
    if (got != want) {
      ++mismatches;
      ADD_FAILURE() << source << "." << name << "." << variant << " text " << json(text).dump() << "\n  got  "
                    << show(got) << "\n  want " << show(want);
    }
  }
  EXPECT_GT(checked, 40) << source << "." << name << "." << variant;
  return mismatches;
}

struct TinyModel {
  const char* case_name;
  const char* file_stem;
};
const TinyModel kTinyModels[] = {
    {"tiny-qwen2-a-s1", "tiny-qwen2-a-s1"},
    {"tiny-llama-a-s1", "tiny-llama-a-s1"},
    {"tiny-deepseek2-a-s1", "tiny-deepseek2-legacy-a-s1"},
};

class LlamaCppCases : public ::testing::TestWithParam<TinyModel> {};

TEST_P(LlamaCppCases, ExactIds) {
  R1_REQUIRE_FIXTURES(fixtures);
  const BpeTokenizer& tok = text_test::tiny_gguf_tokenizer(fixtures, GetParam().file_stem);
  const std::string name = GetParam().case_name;
  EXPECT_EQ(check_variant(fixtures, tok, "llama_cpp", name, "parse_special", {.parse_special = true}), 0);
  EXPECT_EQ(check_variant(fixtures, tok, "llama_cpp", name, "no_parse_special", {.parse_special = false}), 0);
  EXPECT_EQ(check_variant(fixtures, tok, "llama_cpp", name, "add_special_parse_special",
                          {.parse_special = true, .add_special = true}),
            0);
}

INSTANTIATE_TEST_SUITE_P(TinyGguf, LlamaCppCases, ::testing::ValuesIn(kTinyModels),
                         [](const auto& info) {
                           std::string n = info.param.file_stem;
                           for (char& c : n) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return n;
                         });

struct HfFamily {
  const char* case_name;
  const char* folder;
};
const HfFamily kFamilies[] = {{"qwen3", "qwen3"}, {"llama3", "llama3"}, {"deepseek-v3", "deepseek_v3"}};

class HfCases : public ::testing::TestWithParam<HfFamily> {};

TEST_P(HfCases, ExactIds) {
  R1_REQUIRE_FIXTURES(fixtures);
  const BpeTokenizer& tok = text_test::hf_family_tokenizer(fixtures, GetParam().folder);
  const std::string name = GetParam().case_name;
  EXPECT_EQ(check_variant(fixtures, tok, "hf_js", name, "plain", {.parse_special = true}), 0);
  EXPECT_EQ(check_variant(fixtures, tok, "hf_js", name, "with_special", {.parse_special = true, .add_special = true}), 0);
}

INSTANTIATE_TEST_SUITE_P(FullTokenizerJson, HfCases, ::testing::ValuesIn(kFamilies),
                         [](const auto& info) { return std::string(info.param.folder); });

TEST(HfCases, TinyQwen2TokenizerJson) {
  R1_REQUIRE_FIXTURES(fixtures);
  const auto path = fixtures / "hf" / "tiny-qwen2-a-s1-hf" / "tokenizer.json";
  const BpeTokenizer tok = load_tokenizer_hf_file(path.string(), text_test::quiet_logger());
  EXPECT_EQ(tok.normalization(), Normalization::kNfc);
  EXPECT_EQ(tok.bos(), 2003);
  EXPECT_FALSE(tok.chat_template().empty());
  EXPECT_EQ(check_variant(fixtures, tok, "hf_js", "tiny-qwen2-a-s1", "plain", {.parse_special = true}), 0);
  EXPECT_EQ(check_variant(fixtures, tok, "hf_js", "tiny-qwen2-a-s1", "with_special",
                          {.parse_special = true, .add_special = true}),
            0);
}

TEST(TinyGgufVocab, SpecialTokensAndFlags) {
  R1_REQUIRE_FIXTURES(fixtures);
  const BpeTokenizer& qwen = text_test::tiny_gguf_tokenizer(fixtures, "tiny-qwen2-a-s1");
  EXPECT_EQ(qwen.bos(), 2003);
  EXPECT_EQ(qwen.eos(), 2000);
  EXPECT_TRUE(qwen.add_bos());
  EXPECT_EQ(qwen.pre_tokenizer().kind(), PreTokenizerKind::kQwen2);
  EXPECT_EQ(qwen.token_type(2005), TokenType::kUserDefined);
  EXPECT_EQ(qwen.find_token("<think>"), 2005);
  EXPECT_TRUE(qwen.is_end_of_generation(2000));
  EXPECT_FALSE(qwen.chat_template().empty());
  // With special parsing off, user text cannot produce the control token <｜User｜>; <think> still matches.
  const auto ids = qwen.encode("<｜User｜><think>", {.parse_special = false});
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 2001), 0);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 2005), 1);
  EXPECT_EQ(qwen.encode("<｜User｜>", {.parse_special = true}), (std::vector<TokenId>{2001}));
  // Control tokens disappear from output unless rendering specials.
  EXPECT_EQ(qwen.decode(std::vector<TokenId>{2003, 2005}, /*render_special=*/false), "<think>");

  const BpeTokenizer& ds = text_test::tiny_gguf_tokenizer(fixtures, "tiny-deepseek2-legacy-a-s1");
  EXPECT_EQ(ds.pre_tokenizer().kind(), PreTokenizerKind::kDeepSeekV3);
  EXPECT_EQ(ds.find_token("<think>"), 2801);
  const BpeTokenizer& llama = text_test::tiny_gguf_tokenizer(fixtures, "tiny-llama-a-s1");
  EXPECT_EQ(llama.pre_tokenizer().kind(), PreTokenizerKind::kLlama3);
  EXPECT_TRUE(llama.ignore_merges());
}

TEST(TinyGgufVocab, RoundTripsEveryCase) {
  R1_REQUIRE_FIXTURES(fixtures);
  for (const auto& model : kTinyModels) {
    const BpeTokenizer& tok = text_test::tiny_gguf_tokenizer(fixtures, model.file_stem);
    for (const json& c : cases(fixtures)) {
      const std::string text = c.at("text").get<std::string>();
      const std::vector<TokenId> ids = tok.encode(text, {.parse_special = true});
      std::string pieces;
      for (TokenId id : ids) pieces += tok.token_to_piece(id);
      EXPECT_EQ(pieces, text) << model.file_stem;
      EXPECT_EQ(tok.decode(ids), clean_up_spaces(text, tok.space_cleanup())) << model.file_stem;
    }
  }
}

// llama.cpp cleans spaces in llama_detokenize for llama-bpe but not for the qwen2 and deepseek-v3 pre-tokenizers.
TEST(TinyGgufVocab, SpaceCleanupAsLlamaCpp) {
  R1_REQUIRE_FIXTURES(fixtures);
  EXPECT_EQ(text_test::tiny_gguf_tokenizer(fixtures, "tiny-llama-a-s1").space_cleanup(), SpaceCleanup::kLlamaCpp);
  EXPECT_EQ(text_test::tiny_gguf_tokenizer(fixtures, "tiny-qwen2-a-s1").space_cleanup(), SpaceCleanup::kNone);
  EXPECT_EQ(text_test::tiny_gguf_tokenizer(fixtures, "tiny-deepseek2-legacy-a-s1").space_cleanup(), SpaceCleanup::kNone);
  const BpeTokenizer& llama = text_test::tiny_gguf_tokenizer(fixtures, "tiny-llama-a-s1");
  EXPECT_EQ(llama.decode(llama.encode("Hello , world ! it 's")), "Hello, world! it's");
}

// Expected outputs are llama_detokenize(llama_tokenize(input)) with the tiny llama-bpe vocabulary (llama.cpp d32676d77).
TEST(SpaceCleanup, LlamaCppPasses) {
  const std::pair<std::string, std::string> cases[] = {
      {"\t \u2014 \u2014 ! } x", "\t \u2014 \u2014! } x"},
      {"Hello , world . How are you ? Fine !", "Hello, world. How are you? Fine!"},
      {"don 't , it 's , I 'm , we 're , you 've , he 'll , she 'd", "don 't, it's, I'm, we're, you've, he 'll, she 'd"},
      {"a ' b", "a'b"},
      {"x ' ' y", "x'' y"},
      {" ' ' '", "'' '"},
      {" 's", "'s"},
      {" ' ", "'"},
      {"rock ' n ' roll", "rock'n'roll"},
      {"  123\n's token ! 's ", "  123\n's token!'s "},
      {" .", "."},
      {"a  ,b", "a ,b"},
      {"", ""},
      {" ", " "},
  };
  for (const auto& [in, want] : cases) EXPECT_EQ(clean_up_spaces(in, SpaceCleanup::kLlamaCpp), want) << in;
  EXPECT_EQ(clean_up_spaces("a , b", SpaceCleanup::kNone), "a , b");
}

// transformers' clean_up_tokenization: plain replacements, " n't" included, " ' " joined without look-behind.
TEST(SpaceCleanup, HuggingFaceReplacements) {
  EXPECT_EQ(clean_up_spaces("Hello , world . How ? Fine !", SpaceCleanup::kHuggingFace), "Hello, world. How? Fine!");
  EXPECT_EQ(clean_up_spaces("do n't it 's I 'm we 're you 've he 'll", SpaceCleanup::kHuggingFace),
            "don't it's I'm we're you've he 'll");
  EXPECT_EQ(clean_up_spaces("rock ' n ' roll", SpaceCleanup::kHuggingFace), "rock'n'roll");
}

}  // namespace
}  // namespace r1
