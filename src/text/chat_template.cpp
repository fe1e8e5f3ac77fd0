// Chat template rendering with llama.cpp's variables, the built-in R1 fallback, and prompt tokenization.
#include "chat_template.h"

#include "error.h"
#include "jinja_parse.h"

namespace r1 {

ChatTemplate ChatTemplate::parse(std::string source) {
  ChatTemplate t;
  t.template_ = jinja::parse_template(source);
  t.source_ = std::move(source);
  return t;
}

std::string ChatTemplate::render(const nlohmann::ordered_json& messages, const ChatTemplateOptions& options) const {
  jinja::Value context = jinja::Value::dict();
  context.set("messages", jinja::from_json(messages));
  context.set("add_generation_prompt", jinja::Value::boolean(options.add_generation_prompt));
  context.set("bos_token", jinja::Value::string(options.bos_token));
  context.set("eos_token", jinja::Value::string(options.eos_token));
  context.set("enable_thinking", jinja::Value::boolean(options.enable_thinking));
  for (const auto& [key, value] : options.extra_variables.items()) context.set(key, jinja::from_json(value));
  return jinja::render(template_, context, options.limits);
}

std::string render_r1_builtin(const nlohmann::ordered_json& messages, const ChatTemplateOptions& options) {
  const auto content_of = [](const nlohmann::ordered_json& m) {
    const auto it = m.find("content");
    return it != m.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  std::string out = options.bos_token;
  for (const auto& m : messages) {
    if (m.value("role", "") == "system") out += content_of(m);
  }
  for (const auto& m : messages) {
    const std::string role = m.value("role", "");
    if (role == "user") {
      out += "<｜User｜>" + content_of(m);
    } else if (role == "assistant") {
      std::string content = content_of(m);
      const size_t close = content.rfind("</think>");
      if (close != std::string::npos) content = content.substr(close + 8);
      out += "<｜Assistant｜>" + content + "<｜end▁of▁sentence｜>";
    }
  }
  if (options.add_generation_prompt) out += options.enable_thinking ? "<｜Assistant｜><think>\n" : "<｜Assistant｜><think>\n</think>";
  return out;
}

std::string render_chat(const BpeTokenizer& tokenizer, const nlohmann::ordered_json& messages,
                        ChatTemplateOptions options, const Logger& log) {
  if (options.bos_token.empty() && tokenizer.bos() != kNoToken) options.bos_token = tokenizer.token_text(tokenizer.bos());
  if (options.eos_token.empty() && tokenizer.eos() != kNoToken) options.eos_token = tokenizer.token_text(tokenizer.eos());
  if (tokenizer.chat_template().empty()) {
    log.warn("{}: no chat template in the file: using the built-in R1 format", tokenizer.source());
    return render_r1_builtin(messages, options);
  }
  std::optional<ChatTemplate> tmpl;
  try {
    tmpl = ChatTemplate::parse(tokenizer.chat_template());
  } catch (const Error& e) {
    log.warn("{}: chat template not usable ({}): using the built-in R1 format", tokenizer.source(), e.what());
    return render_r1_builtin(messages, options);
  }
  try {
    return tmpl->render(messages, options);
  } catch (const Error& e) {
    if (e.message().find("the template raised an error") != std::string::npos) throw;
    log.warn("{}: chat template failed ({}): using the built-in R1 format", tokenizer.source(), e.what());
    return render_r1_builtin(messages, options);
  }
}

std::vector<TokenId> tokenize_prompt(const BpeTokenizer& tokenizer, std::string_view prompt) {
  const bool has_bos = tokenizer.bos() != kNoToken && prompt.starts_with(tokenizer.token_text(tokenizer.bos()));
  return tokenizer.encode(prompt, {.parse_special = true, .add_special = !has_bos});
}

}  // namespace r1
