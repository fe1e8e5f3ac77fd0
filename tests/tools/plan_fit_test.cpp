// `--fit`: the placement chosen for r1 run, and what runs when the build has no GPU backend.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "hardware_catalog.h"
#include "model_catalog.h"
#include "plan_fit.h"

namespace r1::plan {
namespace {

ModelProfile catalog_profile(std::string_view model, std::string_view quant) {
  const CatalogModel* m = find_model(model);
  const QuantRecipe* r = find_recipe(quant);
  EXPECT_TRUE(m && r) << model << " " << quant;
  return profile_from_catalog(*m, *r);
}

bool any_line_has(const FitReport& report, std::string_view text) {
  return std::any_of(report.lines.begin(), report.lines.end(),
                     [&](const std::string& line) { return line.find(text) != std::string::npos; });
}

TEST(PlanFit, ModeNames) {
  EXPECT_EQ(fit_mode_from_name(""), FitMode::kAuto);
  EXPECT_EQ(fit_mode_from_name("auto"), FitMode::kAuto);
  EXPECT_EQ(fit_mode_from_name("on"), FitMode::kOn);
  EXPECT_EQ(fit_mode_from_name("off"), FitMode::kOff);
  EXPECT_FALSE(fit_mode_from_name("yes").has_value());
}

TEST(PlanFit, AutoIsOnOnlyWhereThereIsAGpu) {
  const Hardware* gpu = find_hardware("rtx4090");
  const Hardware* apple = find_hardware("m3max-128");
  const Hardware* cpu = find_hardware("epyc-1s");
  ASSERT_TRUE(gpu && apple && cpu);
  EXPECT_TRUE(fit_enabled(FitMode::kAuto, *gpu));
  EXPECT_TRUE(fit_enabled(FitMode::kAuto, *apple));
  EXPECT_FALSE(fit_enabled(FitMode::kAuto, *cpu));
  EXPECT_TRUE(fit_enabled(FitMode::kOn, *cpu));
  EXPECT_FALSE(fit_enabled(FitMode::kOff, *gpu));
}

TEST(PlanFit, CpuMachineRunsWhatWasChosen) {
  PlanOptions o;
  o.n_ctx = 4096;
  const FitReport report = fit_model(catalog_profile("deepseek-r1:7b", "Q4_K_M"), *find_hardware("epyc-1s"), o, false);
  EXPECT_EQ(report.chosen.placement.kind, PlacementKind::kCpuOnly);
  EXPECT_FALSE(report.applied.has_value());
  EXPECT_EQ(&report.effective(), &report.chosen);
  EXPECT_TRUE(any_line_has(report, "everything in RAM, on the CPU"));
  EXPECT_TRUE(any_line_has(report, "4096 tokens"));
  EXPECT_FALSE(any_line_has(report, "no GPU backend"));
}

TEST(PlanFit, GpuPlacementFallsBackToTheCpuWithoutAGpuBackend) {
  PlanOptions o;
  o.n_ctx = 8192;
  const ModelProfile m = catalog_profile("deepseek-r1:14b", "Q4_K_M");
  const Hardware& hw = *find_hardware("rtx4090");

  const FitReport with_backend = fit_model(m, hw, o, true);
  EXPECT_EQ(with_backend.chosen.placement.kind, PlacementKind::kAllGpu);
  EXPECT_FALSE(with_backend.applied.has_value());

  const FitReport without = fit_model(m, hw, o, false);
  EXPECT_EQ(without.chosen.placement.kind, PlacementKind::kAllGpu);
  ASSERT_TRUE(without.applied.has_value());
  EXPECT_EQ(without.applied->placement.kind, PlacementKind::kCpuOnly);
  EXPECT_EQ(&without.effective(), &*without.applied);
  // The CPU plan uses the host's RAM bandwidth, far below the GPU's: slower than the chosen plan.
  EXPECT_LT(without.applied->generation_tps, without.chosen.generation_tps / 4);
  EXPECT_TRUE(any_line_has(without, "no GPU backend"));
  EXPECT_TRUE(any_line_has(without, "on the CPU: predicted"));
}

TEST(PlanFit, TooLargeSaysSo) {
  PlanOptions o;
  const FitReport report = fit_model(catalog_profile("671b", "Q4_K_M"), *find_hardware("rtx4090"), o, false);
  EXPECT_EQ(report.chosen.placement.kind, PlacementKind::kNone);
  EXPECT_FALSE(report.applied.has_value());
  EXPECT_TRUE(any_line_has(report, "does not fit"));
}

}  // namespace
}  // namespace r1::plan
