// Tests of the <think> splitter: tags split across pieces, pre-filled reasoning, skipped thinking, early stop.
#include <gtest/gtest.h>

#include "reasoning_split.h"

namespace r1 {
namespace {

// Feeds text in pieces of `step` bytes and returns the concatenated reasoning and content.
ReasoningDelta run(std::string_view text, size_t step, ReasoningSplitOptions options = {}) {
  ReasoningSplitter splitter(options);
  ReasoningDelta all;
  for (size_t i = 0; i < text.size(); i += step) {
    const ReasoningDelta d = splitter.push(text.substr(i, step));
    all.reasoning += d.reasoning;
    all.content += d.content;
  }
  const ReasoningDelta d = splitter.finish();
  all.reasoning += d.reasoning;
  all.content += d.content;
  return all;
}

TEST(ReasoningSplit, SplitsAtEveryPieceSize) {
  for (size_t step = 1; step <= 12; ++step) {
    const auto r = run("<think>\nLet me think.\n</think>\n\nThe answer is 4.", step);
    EXPECT_EQ(r.reasoning, "Let me think.") << step;
    EXPECT_EQ(r.content, "The answer is 4.") << step;
  }
}

TEST(ReasoningSplit, PrefilledThinkOnlyCloses) {
  for (size_t step : {1, 3, 100}) {
    const auto r = run("Hmm, 2+2.\n</think>\n\n4", step, {.starts_in_reasoning = true});
    EXPECT_EQ(r.reasoning, "Hmm, 2+2.");
    EXPECT_EQ(r.content, "4");
  }
}

TEST(ReasoningSplit, ModelSkipsThinking) {
  const auto r = run("  Paris is the capital.", 1);
  EXPECT_EQ(r.reasoning, "");
  EXPECT_EQ(r.content, "Paris is the capital.");
  const auto lt = run("<b>bold</b>", 2);  // starts like a tag but is not one
  EXPECT_EQ(lt.content, "<b>bold</b>");
}

TEST(ReasoningSplit, StopsBeforeClose) {
  const auto r = run("<think>still going </thi", 4);
  EXPECT_EQ(r.reasoning, "still going </thi");
  EXPECT_EQ(r.content, "");
}

TEST(ReasoningSplit, NeverShowsPartialTag) {
  ReasoningSplitter s({.starts_in_reasoning = true});
  EXPECT_EQ(s.push("abc</").reasoning, "abc");
  EXPECT_EQ(s.push("thi").reasoning, "");
  const auto d = s.push("nk>x");
  EXPECT_EQ(d.reasoning, "");
  EXPECT_EQ(d.content, "x");
  EXPECT_TRUE(s.reasoning_done());
}

TEST(ReasoningSplit, PromptOpensReasoning) {
  EXPECT_TRUE(prompt_opens_reasoning("<｜User｜>hi<｜Assistant｜><think>\n"));
  EXPECT_FALSE(prompt_opens_reasoning("<｜User｜>hi<｜Assistant｜><think>\n</think>"));
  EXPECT_FALSE(prompt_opens_reasoning("<｜User｜>hi<｜Assistant｜>"));
}

}  // namespace
}  // namespace r1
