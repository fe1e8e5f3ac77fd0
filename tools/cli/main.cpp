// Entry point of the `r1` program: global flags, subcommand registration, and the error boundary.
#include <cstdio>
#include <exception>
#include <vector>

#include "commands.h"
#include "error.h"

int main(int argc, char** argv) {
  using namespace r1::cli;
  CLI::App app{"r1: run DeepSeek-R1 family models locally, fast", "r1"};
  app.set_version_flag("--version", "r1 0.1.0");
  app.require_subcommand(0, 1);
  CliContext ctx;
  app.add_flag("-v,--verbose", ctx.verbosity, "More log output (repeat for more)");

  Action action;
  add_inspect_command(app, &action);
  add_tensor_command(app, &action);
  add_tokenize_command(app, &action);
  add_detokenize_command(app, &action);

  try {
    app.parse(argc, argv);
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
