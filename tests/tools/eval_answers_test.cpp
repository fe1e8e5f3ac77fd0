// Final-answer extraction, normalization and dataset parsing behind `r1 eval`.
#include "eval_answers.h"

#include <gtest/gtest.h>

#include "error.h"

namespace r1 {
namespace {

TEST(EvalAnswers, TakesTheLastBoxedWithNestedBraces) {
  EXPECT_EQ(extract_final_answer("so \\boxed{12} no wait \\boxed{\\frac{1}{2}} done"), "\\frac{1}{2}");
  EXPECT_EQ(extract_final_answer("\\boxed {7}"), "7");
  EXPECT_EQ(extract_final_answer("4821 + 3907 = 8728, so the answer is \\boxed{8728}."), "8728");
}

TEST(EvalAnswers, FallsBackToTheLastNumber) {
  EXPECT_EQ(extract_final_answer("first 12, then 1,234.5 apples."), "1,234.5");
  EXPECT_EQ(extract_final_answer("it is -40 degrees"), "-40");
  EXPECT_EQ(extract_final_answer("an unclosed \\boxed{12 and then 99"), "99");
  EXPECT_EQ(extract_final_answer("no digits at all"), std::nullopt);
  EXPECT_EQ(extract_final_answer(""), std::nullopt);
}

TEST(EvalAnswers, NormalizesNumbersAndLatex) {
  EXPECT_EQ(normalize_answer("1,234,567"), "1234567");
  EXPECT_EQ(normalize_answer("12.50"), "12.5");
  EXPECT_EQ(normalize_answer("3.0"), "3");
  EXPECT_EQ(normalize_answer("+007"), "7");
  EXPECT_EQ(normalize_answer("-0"), "0");
  EXPECT_EQ(normalize_answer("$ 42 $"), "42");
  EXPECT_EQ(normalize_answer("\\text{42}"), "42");
  EXPECT_EQ(normalize_answer("\\dfrac{1}{2}"), "\\frac{1}{2}");
  EXPECT_EQ(normalize_answer("12,34"), "12,34");  // not a thousands separator: kept
  EXPECT_EQ(normalize_answer("1,2345"), "1,2345");
  EXPECT_EQ(normalize_answer("7."), "7");
}

TEST(EvalAnswers, MatchesEquivalentSpellingsOnly) {
  EXPECT_TRUE(answers_match("8,728", "8728"));
  EXPECT_TRUE(answers_match("2800.0", "2800"));
  EXPECT_FALSE(answers_match("8727", "8728"));
  EXPECT_FALSE(answers_match("", "0"));
  EXPECT_FALSE(answers_match("87280", "8728"));
}

TEST(EvalAnswers, ParsesJsonlWithStringOrNumberAnswers) {
  const auto items = parse_eval_dataset(
      "{\"problem\": \"What is 1 + 2?\", \"answer\": \"3\"}\n\n{\"problem\": \"p\", \"answer\": 4.5, \"x\": 1}\n", "t");
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].problem, "What is 1 + 2?");
  EXPECT_EQ(items[0].answer, "3");
  EXPECT_EQ(items[1].answer, "4.5");
}

TEST(EvalAnswers, BadLinesAreErrorsNamingTheLine) {
  const auto message = [](const char* text) {
    try {
      parse_eval_dataset(text, "set.jsonl");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("{\"problem\": \"a\", \"answer\": \"1\"}\n{oops").find("line 2"), std::string::npos);
  EXPECT_NE(message("[1, 2]").find("not a JSON object"), std::string::npos);
  EXPECT_NE(message("{\"answer\": \"1\"}").find("problem"), std::string::npos);
  EXPECT_NE(message("{\"problem\": \"a\"}").find("answer"), std::string::npos);
  EXPECT_NE(message("{\"problem\": \"a\", \"answer\": [1]}").find("neither"), std::string::npos);
  EXPECT_NE(message("\n \n").find("no problems"), std::string::npos);
  const std::string deep = "{\"problem\": " + std::string(100000, '[') + "}";  // bounded, not a stack overflow
  EXPECT_NE(message(deep.c_str()).find("nested deeper"), std::string::npos);
  EXPECT_NE(message("{\"problem\": \"a\", \"answer\": \"1\"}\n{\"problem\": 5, \"answer\": 1}").find("set.jsonl"),
            std::string::npos);
}

}  // namespace
}  // namespace r1
