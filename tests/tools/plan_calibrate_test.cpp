// `r1 plan --calibrate`'s fit: factors recovered from speeds the planner itself predicted, clamping with a note
// when a speed is beyond what the machine's figures allow, bad input refused, and the saved file read back.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "error.h"
#include "hardware_catalog.h"
#include "model_catalog.h"
#include "plan_calibrate.h"
#include "plan_estimate.h"

namespace r1::plan {
namespace {

struct Bench {  // a model on a machine
  ModelProfile model;
  Hardware hw;
};

Bench setup(std::string_view model, std::string_view quant) {
  const CatalogModel* m = find_model(model);
  const QuantRecipe* r = find_recipe(quant);
  const Hardware* h = find_hardware("epyc-1s");
  EXPECT_TRUE(m && r && h);
  return Bench{profile_from_catalog(*m, *r), *h};
}

// What the planner predicts for pp<n_prompt> and generation with these CPU factors.
std::pair<double, double> predicted(const Bench& s, const Efficiency& e, int n_prompt) {
  PlanOptions o;
  o.n_ctx = n_prompt;
  o.n_ubatch = n_prompt;
  o.cpu_efficiency = e;
  const PlanResult r = plan(s.model, s.hw, o);
  return {r.prompt_tps, r.generation_tps};
}

TEST(PlanCalibrate, RecoversTheFactorsBehindPredictedSpeeds) {
  for (const auto& [model, quant] : {std::pair{"deepseek-r1:1.5b", "Q4_K_M"}, std::pair{"deepseek-r1:671b", "UD-IQ1_S"}}) {
    const Bench s = setup(model, quant);
    Efficiency truth = default_efficiency(AccelKind::kNone);
    truth.decode_bw *= 0.8;  // the fit keeps the default ratio of the two read factors
    truth.decode_bw_moe *= 0.8;
    truth.flops = 0.3;
    const auto [pp, tg] = predicted(s, truth, 256);
    const CalibrationResult fit =
        fit_cpu_efficiency(CalibrationInput{.model = s.model, .hw = s.hw, .n_prompt = 256, .prompt_tps = pp, .generation_tps = tg});
    EXPECT_NEAR(fit.cpu.decode_bw, truth.decode_bw, 1e-6) << model;
    EXPECT_NEAR(fit.cpu.decode_bw_moe, truth.decode_bw_moe, 1e-6) << model;
    EXPECT_NEAR(fit.cpu.flops, truth.flops, 1e-6) << model;
    EXPECT_NEAR(fit.predicted_generation_tps, tg, tg * 1e-6) << model;
    EXPECT_NEAR(fit.predicted_prompt_tps, pp, pp * 1e-6) << model;
  }
}

TEST(PlanCalibrate, ClampsSpeedsBeyondTheMachineWithANote) {
  const Bench s = setup("deepseek-r1:1.5b", "Q4_K_M");
  Efficiency full = default_efficiency(AccelKind::kNone);
  full.decode_bw = full.decode_bw_moe = 1.0;
  full.flops = 1.0;
  const auto [pp, tg] = predicted(s, full, 256);
  const CalibrationResult fit = fit_cpu_efficiency(
      CalibrationInput{.model = s.model, .hw = s.hw, .n_prompt = 256, .prompt_tps = pp * 3, .generation_tps = tg * 3});
  EXPECT_NEAR(fit.cpu.decode_bw, 1.0, 1e-9);
  EXPECT_LE(fit.cpu.decode_bw_moe, 1.0);
  EXPECT_NEAR(fit.cpu.flops, 1.0, 1e-9);
  EXPECT_GE(fit.notes.size(), 3u);
}

TEST(PlanCalibrate, RefusesSpeedsThatAreNotPositive) {
  const Bench s = setup("deepseek-r1:1.5b", "Q4_K_M");
  EXPECT_THROW(fit_cpu_efficiency(CalibrationInput{.model = s.model, .hw = s.hw, .n_prompt = 256, .prompt_tps = 100,
                                                   .generation_tps = 0}),
               Error);
  EXPECT_THROW(fit_cpu_efficiency(CalibrationInput{.model = s.model, .hw = s.hw, .n_prompt = 0, .prompt_tps = 100,
                                                   .generation_tps = 10}),
               Error);
}

TEST(PlanCalibrate, SavedFactorsReadBackAndTheDefaultPathFollowsXdg) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "r1_plan_calibrate_test";
  std::filesystem::remove_all(dir);
  ::setenv("XDG_CONFIG_HOME", dir.c_str(), 1);
  const std::string path = default_efficiency_path();
  EXPECT_EQ(path, (dir / "r1" / "efficiency.json").string());
  Efficiency e = default_efficiency(AccelKind::kNone);
  e.decode_bw = 0.42;
  e.flops = 0.17;
  e.source = "test";
  save_cpu_efficiency(path, e);  // creates dir/r1
  std::ifstream in(path);
  const nlohmann::json j = nlohmann::json::parse(in);
  Efficiency back;
  back.update_from_json(j.at("cpu"));
  EXPECT_DOUBLE_EQ(back.decode_bw, 0.42);
  EXPECT_DOUBLE_EQ(back.flops, 0.17);
  EXPECT_EQ(back.source, "test");
  ::unsetenv("XDG_CONFIG_HOME");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace r1::plan
