// ReasoningSplitter: splits streamed model output into reasoning (between <think> and </think>) and answer
// content, as text arrives in arbitrary pieces (a tag may be split across tokens). Detokenizing is
// text_stream.h's job; rendering the prompt is the chat template's.
#pragma once

#include <string>
#include <string_view>

namespace r1 {

struct ReasoningDelta {
  std::string reasoning;
  std::string content;
  bool empty() const { return reasoning.empty() && content.empty(); }
};

struct ReasoningSplitOptions {
  // The prompt already opened the reasoning (R1 templates pre-fill "<think>\n"): output starts inside it and
  // only </think> will appear. prompt_opens_reasoning() tells from the rendered prompt.
  bool starts_in_reasoning = false;
  std::string open_tag = "<think>";
  std::string close_tag = "</think>";
};

class ReasoningSplitter {
 public:
  enum class State { kStart, kReasoning, kContent };

  explicit ReasoningSplitter(ReasoningSplitOptions options = {});

  // Feed the next piece of generated text; returns what can be shown now. Text that might still turn out to
  // be part of a tag, and whitespace at the edges of the reasoning and of the content, is held back.
  ReasoningDelta push(std::string_view text);
  // End of generation (also when it stopped before </think>): returns whatever was held back.
  ReasoningDelta finish();

  State state() const { return state_; }
  // True once </think> has been seen (or the model answered without thinking).
  bool reasoning_done() const { return state_ == State::kContent; }

 private:
  void process(bool final, ReasoningDelta* out);

  ReasoningSplitOptions options_;
  State state_;
  bool at_section_start_ = true;  // drop whitespace right after a tag
  std::string pending_;
};

// True when the last <think> in prompt is not followed by </think>: generation will start inside reasoning.
bool prompt_opens_reasoning(std::string_view prompt, std::string_view open_tag = "<think>",
                            std::string_view close_tag = "</think>");

}  // namespace r1
