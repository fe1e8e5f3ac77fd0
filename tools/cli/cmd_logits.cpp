// `r1 logits -m MODEL (--tokens 1,2,3 | --prompt TEXT) [--out FILE]`: raw float32 logits of every position,
// row-major [n_tokens, n_vocab], for debugging and comparisons with other engines.
#include <cstdio>
#include <memory>
#include <sstream>
#include <string>

#include "atomic_file.h"
#include "commands.h"
#include "error.h"
#include "r1/r1.h"

namespace r1::cli {
namespace {
struct LogitsArgs {
  std::string model;
  std::string tokens;
  std::string prompt;
  std::string out;
  int threads = 0;
};

std::vector<int32_t> parse_ids(const std::string& text) {
  std::vector<int32_t> ids;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      size_t used = 0;
      const long v = std::stol(item, &used);
      if (used != item.size() || v < 0 || v > INT32_MAX) throw std::invalid_argument(item);
      ids.push_back(static_cast<int32_t>(v));
    } catch (const std::exception&) {
      throw Error(fmt::format("--tokens: '{}' is not a token id", item));
    }
  }
  return ids;
}
}  // namespace

void add_logits_command(CLI::App& app, Action* action) {
  auto args = std::make_shared<LogitsArgs>();
  CLI::App* cmd = app.add_subcommand("logits", "Print or save the raw logits of every position of a prompt");
  cmd->add_option("-m,--model", args->model, "GGUF model file")->required();
  auto* tokens = cmd->add_option("--tokens", args->tokens, "Comma-separated token ids");
  auto* prompt = cmd->add_option("--prompt", args->prompt, "Text (special tokens parsed, BOS added as the model says)");
  tokens->excludes(prompt);
  cmd->add_option("--out", args->out, "Write float32 [n_tokens, n_vocab] here instead of a summary");
  cmd->add_option("-t,--threads", args->threads, "CPU threads");
  cmd->callback([args, action] {
    *action = [args](CliContext& ctx) {
      if (args->tokens.empty() && args->prompt.empty()) throw Error("give --tokens or --prompt");
      EngineOptions o;
      o.model = args->model;
      o.threads = args->threads;
      o.verbosity = ctx.verbosity;
      auto engine = Engine::load(o);
      const std::vector<int32_t> ids =
          args->tokens.empty() ? engine->tokenize(args->prompt, true, true) : parse_ids(args->tokens);
      if (ids.empty()) throw Error("no tokens to evaluate");
      o.context = static_cast<int>(ids.size());
      const std::vector<float> logits = engine->logits(ids);
      const int64_t n_vocab = engine->model().n_vocab;
      if (!args->out.empty()) {
        AtomicFile out(args->out);
        out.write(logits.data(), logits.size() * sizeof(float));
        out.commit();
        std::printf("%zu tokens x %lld logits written to %s\n", ids.size(), static_cast<long long>(n_vocab),
                    args->out.c_str());
        return 0;
      }
      for (size_t p = 0; p < ids.size(); ++p) {
        const float* row = logits.data() + p * n_vocab;
        int64_t best = 0;
        for (int64_t i = 1; i < n_vocab; ++i) best = row[i] > row[best] ? i : best;
        std::printf("%zu\ttoken %d\targmax %lld\t%.6f\n", p, ids[p], static_cast<long long>(best), row[best]);
      }
      return 0;
    };
  });
}

}  // namespace r1::cli
