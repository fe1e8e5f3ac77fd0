// Reading problem sets and comparing final answers for `r1 eval` (see eval_answers.h).
#include "eval_answers.h"

#include <cctype>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "error.h"
#include "text_file.h"

namespace r1 {
namespace {

using Json = nlohmann::json;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string erase_all(std::string s, std::string_view what) {
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at)) s.erase(at, what.size());
  return s;
}

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
  return s;
}

// "1,234,567" -> "1234567": a comma between digits with exactly three digits after it.
std::string drop_thousands_separators(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool separator = s[i] == ',' && i > 0 && is_digit(s[i - 1]) && i + 3 < s.size() && is_digit(s[i + 1]) &&
                           is_digit(s[i + 2]) && is_digit(s[i + 3]) && (i + 4 == s.size() || !is_digit(s[i + 4]));
    if (!separator) out += s[i];
  }
  return out;
}

// A plain decimal number (optional sign, digits, optional fraction) in one canonical spelling; nullopt for
// anything else.
std::optional<std::string> canonical_number(std::string s) {
  if (s.empty()) return std::nullopt;
  std::string sign;
  if (s[0] == '+' || s[0] == '-') {
    if (s[0] == '-') sign = "-";
    s.erase(0, 1);
  }
  const size_t dot = s.find('.');
  std::string whole = s.substr(0, dot);
  std::string frac = dot == std::string::npos ? "" : s.substr(dot + 1);
  if (whole.empty() && frac.empty()) return std::nullopt;
  for (char c : whole + frac) {
    if (!is_digit(c)) return std::nullopt;
  }
  while (whole.size() > 1 && whole[0] == '0') whole.erase(0, 1);
  if (whole.empty()) whole = "0";
  while (!frac.empty() && frac.back() == '0') frac.pop_back();
  std::string out = whole + (frac.empty() ? "" : "." + frac);
  if (out == "0") sign.clear();
  return sign + out;
}

}  // namespace

std::vector<EvalItem> parse_eval_dataset(std::string_view text, const std::string& source) {
  std::vector<EvalItem> items;
  size_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    auto fail = [&](const std::string& why) { return Error(fmt::format("line {}: {}", line_no, why)).file(source); };
    Json j;
    try {
      j = parse_json_bounded(line, source, 16);
    } catch (const Error& e) {
      throw fail(e.what());
    }
    if (!j.is_object()) throw fail("not a JSON object");
    if (!j.contains("problem") || !j.at("problem").is_string()) throw fail("no string \"problem\"");
    if (!j.contains("answer")) throw fail("no \"answer\"");
    const Json& a = j.at("answer");
    EvalItem item{.problem = j.at("problem").get<std::string>(), .answer = {}};
    if (a.is_string()) item.answer = a.get<std::string>();
    else if (a.is_number()) item.answer = a.dump();
    else throw fail("\"answer\" is neither a string nor a number");
    items.push_back(std::move(item));
  }
  if (items.empty()) throw Error("no problems in the file").file(source);
  return items;
}

std::vector<EvalItem> read_eval_dataset(const std::string& path) {
  return parse_eval_dataset(read_text_file(path), path);
}

std::optional<std::string> extract_final_answer(std::string_view reply) {
  const size_t box = reply.rfind("\\boxed");
  if (box != std::string_view::npos) {
    size_t i = box + 6;
    while (i < reply.size() && reply[i] == ' ') ++i;
    if (i < reply.size() && reply[i] == '{') {
      int depth = 0;
      for (size_t j = i; j < reply.size(); ++j) {
        if (reply[j] == '{') ++depth;
        if (reply[j] == '}' && --depth == 0) return std::string(reply.substr(i + 1, j - i - 1));
      }
    }
  }
  // The last number: digits with inner separators and a decimal point, and a sign right before it.
  size_t end = reply.size();
  while (end > 0 && !is_digit(reply[end - 1])) --end;
  if (end == 0) return std::nullopt;
  size_t begin = end;
  while (begin > 0) {
    const char c = reply[begin - 1];
    if (is_digit(c)) --begin;
    else if ((c == '.' || c == ',') && begin >= 2 && is_digit(reply[begin - 2])) --begin;
    else break;
  }
  if (begin > 0 && reply[begin - 1] == '-') --begin;
  return std::string(reply.substr(begin, end - begin));
}

std::string normalize_answer(std::string_view answer) {
  std::string s(answer);
  if (s.rfind("\\text{", 0) == 0 && s.back() == '}') s = s.substr(6, s.size() - 7);
  for (std::string_view drop : {"\\!", "\\,", "\\;", "$", " ", "\t", "\n"}) s = erase_all(std::move(s), drop);
  s = replace_all(std::move(s), "\\dfrac", "\\frac");
  s = replace_all(std::move(s), "\\tfrac", "\\frac");
  s = drop_thousands_separators(s);
  while (!s.empty() && s.back() == '.') s.pop_back();
  if (auto number = canonical_number(s)) return *number;
  return s;
}

bool answers_match(std::string_view predicted, std::string_view expected) {
  return normalize_answer(predicted) == normalize_answer(expected);
}

}  // namespace r1
