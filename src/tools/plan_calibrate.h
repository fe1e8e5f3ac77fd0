// `r1 plan --calibrate`: fits the planner's CPU efficiency factors to this machine from one `r1 bench` run.
// Each factor is found by asking plan() itself which value reproduces the measured speed, so the fit stays
// true to however plan_estimate.cpp models time. Running the benchmark and choosing its model is the
// command's job (tools/cli/cmd_plan.cpp); saving and finding the file is here.
#pragma once

#include <string>
#include <vector>

#include "hardware_catalog.h"
#include "plan_estimate.h"
#include "plan_profile.h"

namespace r1::plan {

struct CalibrationInput {
  ModelProfile model;          // the benchmarked file
  Hardware hw;                 // this machine, with the read bandwidth measured next to the benchmark
  int n_prompt = 0;            // tokens of the prompt test (its one ubatch), 0: none
  double prompt_tps = 0;       // measured prompt processing speed
  double generation_tps = 0;   // measured generation speed from an empty context
};

struct CalibrationResult {
  Efficiency cpu;
  double predicted_prompt_tps = 0;      // the planner's prediction with the fitted factors
  double predicted_generation_tps = 0;
  std::vector<std::string> notes;       // factors left at their defaults or clamped, and why
};

// Fits one scale for both read efficiencies (decode_bw and decode_bw_moe keep their default ratio: one run
// cannot tell them apart) from the generation speed, then `flops` from the prompt speed. layer_overhead_s and
// extra_socket_gain keep their defaults. The machine is planned CPU-only. Throws r1::Error for speeds that are
// not positive.
CalibrationResult fit_cpu_efficiency(const CalibrationInput& in);

// Where `r1 plan` looks for a calibration when no --efficiency is given: $XDG_CONFIG_HOME/r1/efficiency.json,
// else $HOME/.config/r1/efficiency.json ("" when neither variable is set).
std::string default_efficiency_path();

// Writes {"cpu": {...}} (the --efficiency format) through a temporary file; creates the directory.
void save_cpu_efficiency(const std::string& path, const Efficiency& cpu);

// Reads an efficiency file ({"accelerator": {...}, "cpu": {...}}, either part optional) into options. A missing,
// non-JSON or out-of-range file is an r1::Error naming the file.
void load_efficiency_file(const std::string& path, PlanOptions& options);

// The calibration `r1 plan --calibrate` saved for this machine, when there is one: loads it into options and
// returns its path ("" when there is none).
std::string load_saved_calibration(PlanOptions& options);

}  // namespace r1::plan
