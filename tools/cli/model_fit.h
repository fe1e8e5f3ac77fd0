// `--fit` on the commands that load a model to run it (r1 run; r1 serve later): the planner's placement for
// this model on this machine, printed before loading (src/tools/plan_fit.h does the planning).
#pragma once

#include <string>

#include "commands.h"
#include "run_flags.h"

namespace r1::cli {

// Plans the model when flags.fit says so (auto: when a GPU is present) and prints the placement and the
// predicted speeds on stderr as `r1: fit: ...` lines. Returns whether it planned.
bool report_fit(const ModelFlags& flags, const std::string& model, CliContext& ctx);

}  // namespace r1::cli
