// What `r1 eval` needs besides the engine: reading a JSONL problem set, pulling the final answer out of a
// reply, and deciding whether two answers are the same. Generation and scoring live in the command.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace r1 {

struct EvalItem {
  std::string problem;
  std::string answer;  // as given (a JSON number is kept in its shortest text form)
};

// One JSON object per line with string "problem" and string-or-number "answer" (the MATH-500/AIME
// convention); blank lines are skipped. A bad line is an r1::Error naming the file and the line.
std::vector<EvalItem> parse_eval_dataset(std::string_view text, const std::string& source);
std::vector<EvalItem> read_eval_dataset(const std::string& path);

// The final answer of a reply: the content of the last \boxed{...} (braces balanced), else the last number
// in the text; nullopt when there is neither.
std::optional<std::string> extract_final_answer(std::string_view reply);

// The canonical form compared: spaces, "$", "\!", "\," and a \text{...} wrapper removed, "\dfrac" as "\frac",
// thousands separators in numbers dropped, and numbers written in one way (no "+", no trailing zeros after a
// decimal point: "12.50" -> "12.5", "3.0" -> "3").
std::string normalize_answer(std::string_view answer);
bool answers_match(std::string_view predicted, std::string_view expected);

}  // namespace r1
