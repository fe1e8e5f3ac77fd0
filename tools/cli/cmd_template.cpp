// `r1 template`: renders a conversation with a model's chat template and prints the prompt exactly as r1 run
// would tokenize it (no newline of its own). Rendering is the text layer's render_chat.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bpe_tokenizer.h"
#include "chat_template.h"
#include "commands.h"
#include "error.h"
#include "tokenizer_load.h"

namespace r1::cli {

namespace {

using nlohmann::ordered_json;

// Messages files are user input: bound nesting before nlohmann's recursive structures see it.
constexpr int kMaxJsonDepth = 64;

struct TemplateArgs {
  std::string model;
  std::string messages_path;
  bool add_generation_prompt = false;
  bool no_think = false;
  std::vector<std::string> vars;  // key=value
};

std::string read_input(const std::string& path) {
  if (path == "-") return {std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open the messages file").file(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

ordered_json parse_json(const std::string& text, const std::string& source) {
  try {
    return ordered_json::parse(text, [&](int depth, ordered_json::parse_event_t, ordered_json&) {
      if (depth > kMaxJsonDepth) throw Error(fmt::format("JSON nested deeper than {}", kMaxJsonDepth)).file(source);
      return true;
    });
  } catch (const ordered_json::exception& e) {
    throw Error(fmt::format("not valid JSON: {}", e.what())).file(source);
  }
}

// A JSON array of messages, or an object holding one under "messages" (an OpenAI request body).
ordered_json load_messages(const std::string& path) {
  const std::string source = path == "-" ? "<stdin>" : path;
  ordered_json json = parse_json(read_input(path), source);
  if (json.is_object() && json.contains("messages")) json = json["messages"];
  if (!json.is_array()) throw Error("expected a JSON array of messages (or an object with \"messages\")").file(source);
  for (const auto& m : json) {
    if (!m.is_object() || !m.contains("role")) throw Error("every message must be an object with a \"role\"").file(source);
  }
  return json;
}

// --var key=value: the value is read as JSON when it is JSON (true, 3, "x", [1]), else taken as a string.
void add_variable(const std::string& assignment, ordered_json* variables) {
  const size_t eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) throw_error("--var '{}': expected key=value", assignment);
  const std::string key = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  ordered_json value = ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) value = text;
  (*variables)[key] = std::move(value);
}

int run_template(const TemplateArgs& args, CliContext& ctx) {
  const ordered_json messages = load_messages(args.messages_path);
  ChatTemplateOptions options{.add_generation_prompt = args.add_generation_prompt, .enable_thinking = !args.no_think};
  for (const std::string& v : args.vars) add_variable(v, &options.extra_variables);
  const BpeTokenizer tokenizer = load_tokenizer(args.model, ctx.log);
  const std::string prompt = render_chat(tokenizer, messages, options, ctx.log);
  std::fwrite(prompt.data(), 1, prompt.size(), stdout);
  return 0;
}

}  // namespace

void add_template_command(CLI::App& app, Action* action) {
  auto args = std::make_shared<TemplateArgs>();
  CLI::App* cmd = app.add_subcommand("template", "Print the prompt a model's chat template makes of a conversation");
  cmd->add_option("-m,--model", args->model,
                  "GGUF model (tokenizer.chat_template), or a Hugging Face folder / tokenizer.json / "
                  "tokenizer_config.json")
      ->required();
  cmd->add_option("--messages", args->messages_path, "JSON file: [{\"role\": ..., \"content\": ...}, ...] (- for stdin)")
      ->required();
  cmd->add_flag("--add-generation-prompt", args->add_generation_prompt, "End with the assistant's turn opening");
  cmd->add_flag("--no-think", args->no_think, "Set enable_thinking to false");
  cmd->add_option("--var", args->vars, "Extra template variable key=value (value read as JSON when it is JSON)");
  cmd->callback([args, action] { *action = [args](CliContext& ctx) { return run_template(*args, ctx); }; });
}

}  // namespace r1::cli
