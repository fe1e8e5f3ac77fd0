// `--fit` for `r1 run` (and `r1 serve` and the GPU backend later): before a model is loaded, plan it on this
// machine with the same planner as `r1 plan`, choose the placement, and say what it is and how fast it should
// run. What runs is what the backends this build has can do: the planner's GPU placements need a GPU backend,
// and without one the model runs on the CPU, so that plan is made and printed too, as the one applied.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hardware_catalog.h"
#include "plan_estimate.h"
#include "plan_profile.h"

namespace r1::plan {

enum class FitMode { kAuto, kOn, kOff };

// "auto" (or ""), "on", "off"; nullopt for anything else.
std::optional<FitMode> fit_mode_from_name(std::string_view name);

// auto means on when the machine has a GPU (where placement is a real choice), off otherwise.
bool fit_enabled(FitMode mode, const Hardware& hw);

struct FitReport {
  PlanResult chosen;                 // the planner's best placement on the machine as detected
  std::optional<PlanResult> applied; // set when the chosen placement needs a backend this build lacks: the
                                     // CPU-only plan, which is what runs
  std::vector<std::string> lines;    // for people, one line each, without a prefix

  const PlanResult& effective() const { return applied ? *applied : chosen; }
};

// Plans `model` on `hw` (n_ctx and cache type in options) and, when the best placement puts anything on a GPU
// and gpu_backend is false, plans the CPU-only fallback as well.
FitReport fit_model(const ModelProfile& model, const Hardware& hw, const PlanOptions& options, bool gpu_backend);

}  // namespace r1::plan
