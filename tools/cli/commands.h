// The subcommands of the `r1` program. Each lives in its own cmd_<name>.cpp: it declares its flags on the
// CLI11 app and returns an action that main() runs after parsing. Actions throw r1::Error for bad input;
// main() prints it as one line and exits with status 1.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

#include "log.h"

namespace r1::cli {

struct CliContext {
  Logger log;
  int verbosity = 0;
};

using Action = std::function<int(CliContext&)>;

// Each adds its subcommand to app and stores its action into *action (called when that subcommand is chosen).
void add_inspect_command(CLI::App& app, Action* action);
void add_run_command(CLI::App& app, Action* action);
void add_logits_command(CLI::App& app, Action* action);
void add_quantize_command(CLI::App& app, Action* action);
void add_plan_command(CLI::App& app, Action* action);
void add_convert_command(CLI::App& app, Action* action);
void add_bench_command(CLI::App& app, Action* action);
void add_tensor_command(CLI::App& app, Action* action);
void add_tokenize_command(CLI::App& app, Action* action);
void add_detokenize_command(CLI::App& app, Action* action);
void add_eval_command(CLI::App& app, Action* action);
void add_template_command(CLI::App& app, Action* action);
void add_synth_command(CLI::App& app, Action* action);
void add_perplexity_command(CLI::App& app, Action* action);
void add_imatrix_command(CLI::App& app, Action* action);

}  // namespace r1::cli
