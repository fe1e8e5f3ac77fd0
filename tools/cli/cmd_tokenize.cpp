// `r1 tokenize` and `r1 detokenize`: text to token ids and back with a model's (or a tokenizer.json's) vocabulary.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bpe_tokenizer.h"
#include "commands.h"
#include "error.h"
#include "tokenizer_load.h"
#include "utf8.h"

namespace r1::cli {

namespace {

struct TokenizerSource {
  std::string model;       // -m: a GGUF file
  std::string tokenizer;   // --tokenizer: a tokenizer.json (or its folder)
};

struct TokenizeArgs {
  TokenizerSource source;
  std::vector<std::string> positional;  // [MODEL] TEXT
  bool no_parse_special = false;
  bool add_special = false;
  bool json = false;
  bool ids = false;
  bool pieces = false;
};

struct DetokenizeArgs {
  TokenizerSource source;
  std::vector<std::string> positional;  // [MODEL] IDS... | -
  bool no_render_special = false;
};

void add_source_options(CLI::App* cmd, TokenizerSource* source) {
  cmd->add_option("-m,--model", source->model, "GGUF model (or vocabulary-only GGUF) whose tokenizer to use");
  cmd->add_option("--tokenizer", source->tokenizer, "Hugging Face tokenizer.json (or the folder holding it)");
}

// With -m or --tokenizer every positional is input; without, the first positional names the model.
std::string take_model(const TokenizerSource& source, std::vector<std::string>* positional) {
  if (!source.model.empty() && !source.tokenizer.empty()) throw_error("give either -m/--model or --tokenizer, not both");
  if (!source.model.empty()) return source.model;
  if (!source.tokenizer.empty()) return source.tokenizer;
  if (positional->empty()) throw_error("no model: give MODEL, -m MODEL or --tokenizer tokenizer.json");
  std::string model = positional->front();
  positional->erase(positional->begin());
  return model;
}

std::string read_stdin() { return {std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()}; }

void write_out(const std::string& s) { std::fwrite(s.data(), 1, s.size(), stdout); }

// A piece as a JSON-style quoted string; a piece that is only part of a UTF-8 character shows its bytes.
std::string display_piece(std::string_view piece) {
  if (is_valid_utf8(piece)) return nlohmann::json(std::string(piece)).dump();
  std::string out = "\"";
  for (char c : piece) out += fmt::format("\\x{:02X}", static_cast<uint8_t>(c));
  return out + "\"";
}

int run_tokenize(const TokenizeArgs& args, CliContext& ctx) {
  std::vector<std::string> positional = args.positional;
  const std::string model = take_model(args.source, &positional);
  if (positional.size() != 1) throw_error("expected one TEXT argument (or - to read standard input)");
  const std::string text = positional[0] == "-" ? read_stdin() : positional[0];
  const BpeTokenizer tokenizer = load_tokenizer(model, ctx.log);
  ctx.log.info("{}: {} tokens, pre-tokenizer {}", model, tokenizer.n_tokens(), tokenizer.pre_tokenizer().name());
  const std::vector<TokenId> ids =
      tokenizer.encode(text, {.parse_special = !args.no_parse_special, .add_special = args.add_special});

  std::string out;
  if (args.json && args.pieces) {
    nlohmann::json list = nlohmann::json::array();
    for (TokenId id : ids) list.push_back({{"id", id}, {"piece", std::string(tokenizer.token_to_piece(id))}});
    out = list.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  } else if (args.json) {
    out = nlohmann::json(ids).dump() + "\n";
  } else if (args.pieces) {
    for (TokenId id : ids) {
      out += fmt::format("{:>7} {}\n", id, display_piece(tokenizer.token_to_piece(id)));
    }
  } else {
    out = fmt::format("{}\n", fmt::join(ids, " "));
  }
  write_out(out);
  return 0;
}

int run_detokenize(const DetokenizeArgs& args, CliContext& ctx) {
  std::vector<std::string> positional = args.positional;
  const std::string model = take_model(args.source, &positional);
  std::vector<std::string> words;
  if (positional.size() == 1 && positional[0] == "-") {
    // Standard input: ids separated by spaces, commas, newlines, or a JSON array.
    std::string input = read_stdin();
    for (char& c : input) {
      if (c == ',' || c == '[' || c == ']') c = ' ';
    }
    std::string word;
    for (char c : input + " ") {
      if (std::isspace(static_cast<unsigned char>(c))) {
        if (!word.empty()) words.push_back(word);
        word.clear();
      } else {
        word += c;
      }
    }
  } else {
    words = positional;
  }
  const BpeTokenizer tokenizer = load_tokenizer(model, ctx.log);
  std::vector<TokenId> ids;
  for (const std::string& w : words) {
    size_t used = 0;
    long long v = -1;
    try {
      v = std::stoll(w, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != w.size() || v < 0 || !tokenizer.valid(static_cast<TokenId>(v)) || v > INT32_MAX) {
      throw_error("'{}' is not a token id of this vocabulary (0..{})", w, tokenizer.n_tokens() - 1);
    }
    ids.push_back(static_cast<TokenId>(v));
  }
  write_out(sanitize_utf8(tokenizer.decode(ids, !args.no_render_special)));
  return 0;
}

}  // namespace

void add_tokenize_command(CLI::App& app, Action* action) {
  auto args = std::make_shared<TokenizeArgs>();
  CLI::App* cmd = app.add_subcommand("tokenize", "Turn text into token ids with a model's tokenizer");
  add_source_options(cmd, &args->source);
  cmd->add_option("args", args->positional, "[MODEL] TEXT (TEXT - reads standard input)");
  cmd->add_flag("--no-parse-special,--no-special", args->no_parse_special,
                "Treat control-token text such as <｜User｜> as plain text");
  cmd->add_flag("--add-bos,--add-special", args->add_special, "Add the vocabulary's BOS (and EOS) as the model would");
  cmd->add_flag("--ids", args->ids, "Print the ids on one line (the default)");
  cmd->add_flag("--pieces", args->pieces, "Print each id with the text it stands for");
  cmd->add_flag("--json", args->json, "Print a JSON array");
  cmd->callback([args, action] { *action = [args](CliContext& ctx) { return run_tokenize(*args, ctx); }; });
}

void add_detokenize_command(CLI::App& app, Action* action) {
  auto args = std::make_shared<DetokenizeArgs>();
  CLI::App* cmd = app.add_subcommand("detokenize", "Turn token ids back into text");
  add_source_options(cmd, &args->source);
  cmd->add_option("args", args->positional, "[MODEL] ID... (or - to read ids from standard input)");
  cmd->add_flag("--no-render-special", args->no_render_special, "Leave control tokens (BOS, EOS, ...) out");
  cmd->callback([args, action] { *action = [args](CliContext& ctx) { return run_detokenize(*args, ctx); }; });
}

}  // namespace r1::cli
