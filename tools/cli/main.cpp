// Entry point of the `r1` program: global flags, subcommand registration, and the error boundary.
#include <algorithm>
#include <cstdio>
#include <string>
#include <exception>
#include <vector>

#include "commands.h"
#include "run_flags.h"
#include "error.h"

int main(int argc, char** argv) {
  using namespace r1::cli;
  CLI::App app{"r1: run DeepSeek-R1 family models locally, fast", "r1"};
  app.set_version_flag("--version", "r1 0.1.0");
  app.require_subcommand(0, 1);
  app.fallthrough();  // global flags (-v) also after the subcommand
  CliContext ctx;
  app.add_flag("-v,--verbose", ctx.verbosity, "More log output (repeat for more)");

  Action action;
  add_run_command(app, &action);
  add_inspect_command(app, &action);
  add_logits_command(app, &action);
  add_quantize_command(app, &action);
  add_plan_command(app, &action);
  add_bench_command(app, &action);
  add_convert_command(app, &action);
  add_tensor_command(app, &action);
  add_tokenize_command(app, &action);
  add_detokenize_command(app, &action);
  add_eval_command(app, &action);
  add_template_command(app, &action);
  add_synth_command(app, &action);
  add_perplexity_command(app, &action);
  add_imatrix_command(app, &action);

  // Rewrite llama.cpp's single-dash long flags (-sys, -ctk, -ctv) to their double-dash names.
  std::vector<std::string> args(argv + 1, argv + argc);
  for (auto& a : args) {
    for (const auto& [alias, name] : kSingleDashAliases) {
      if (a == alias) a = name;
    }
  }
  std::reverse(args.begin(), args.end());  // CLI11 takes the arguments in reverse order
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (!action) {
    std::fputs(app.help().c_str(), stdout);
    return 0;
  }
  ctx.log.set_verbosity(ctx.verbosity);
  try {
    return action(ctx);
  } catch (const r1::Error& e) {
    std::fprintf(stderr, "r1: error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "r1: error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "r1: error: %s\n", e.what());
    return 1;
  }
}
