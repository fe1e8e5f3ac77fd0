// Chat templates: rendering a conversation with the Jinja template a model file carries (variables as
// llama.cpp passes them), the built-in R1 format used as fallback, and tokenizing the rendered prompt without
// a second BOS. The interpreter itself is jinja_parse.h / jinja_eval.h.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "bpe_tokenizer.h"
#include "jinja_eval.h"
#include "log.h"

namespace r1 {

struct ChatTemplateOptions {
  bool add_generation_prompt = true;
  bool enable_thinking = true;
  std::string bos_token{};
  std::string eos_token{};
  nlohmann::ordered_json extra_variables = nlohmann::ordered_json::object();  // --var key=value
  jinja::RenderLimits limits{};
};

class ChatTemplate {
 public:
  // Throws r1::Error "template line N: ..." on syntax errors and unsupported statements.
  static ChatTemplate parse(std::string source);

  // messages: a JSON array of {"role": ..., "content": ..., ...}.
  std::string render(const nlohmann::ordered_json& messages, const ChatTemplateOptions& options) const;
  const std::string& source() const { return source_; }

 private:
  std::string source_;
  jinja::Template template_;
};

// The R1 prompt format written out in C++: BOS, system prompt, <｜User｜>…, <｜Assistant｜>answer<｜end▁of▁sentence｜>
// (reasoning dropped from past turns), and <｜Assistant｜><think>\n as generation prompt.
std::string render_r1_builtin(const nlohmann::ordered_json& messages, const ChatTemplateOptions& options);

// Renders with the tokenizer's own template; when it is missing or uses something the interpreter does not
// support, warns on log and uses render_r1_builtin. Errors the template raises itself (raise_exception) throw.
std::string render_chat(const BpeTokenizer& tokenizer, const nlohmann::ordered_json& messages,
                        ChatTemplateOptions options, const Logger& log);

// Tokenizes a rendered prompt: special tokens parsed; the vocabulary's BOS added unless the prompt already
// starts with it.
std::vector<TokenId> tokenize_prompt(const BpeTokenizer& tokenizer, std::string_view prompt);

}  // namespace r1
