// The placement `--fit` chooses and the lines it prints (see plan_fit.h).
#include "plan_fit.h"

#include <filesystem>

#include <fmt/format.h>

namespace r1::plan {
namespace {

// Every placement but CPU-only (and none) puts something on a GPU.
bool uses_gpu(PlacementKind kind) { return kind != PlacementKind::kCpuOnly && kind != PlacementKind::kNone; }

std::string speed_line(const PlanResult& r) {
  if (!r.fits) return fmt::format("verdict: {}", verdict_name(r.verdict));
  return fmt::format("predicted prompt {:.0f} tok/s, generation {:.1f} tok/s ({:.1f} with the context full; "
                     "bandwidth limit {:.1f}): {}",
                     r.prompt_tps, r.generation_tps, r.generation_tps_at_ctx, r.roofline_tps, verdict_name(r.verdict));
}

std::string memory_line(const PlanResult& r) {
  return fmt::format("memory: weights {}, KV cache {} ({} tokens, {}), compute {}{}",
                     human_bytes(static_cast<double>(r.memory.weights)),
                     human_bytes(static_cast<double>(r.memory.kv_cache)), r.n_ctx, r.cache_type,
                     human_bytes(static_cast<double>(r.memory.compute)),
                     r.memory.repack > 0 ? ", prompt weight copy " + human_bytes(static_cast<double>(r.memory.repack))
                                         : std::string());
}

}  // namespace

std::optional<FitMode> fit_mode_from_name(std::string_view name) {
  if (name.empty() || name == "auto") return FitMode::kAuto;
  if (name == "on") return FitMode::kOn;
  if (name == "off") return FitMode::kOff;
  return std::nullopt;
}

bool fit_enabled(FitMode mode, const Hardware& hw) {
  switch (mode) {
    case FitMode::kOn: return true;
    case FitMode::kOff: return false;
    case FitMode::kAuto: return hw.n_gpu > 0 || hw.unified;
  }
  return false;
}

FitReport fit_model(const ModelProfile& model, const Hardware& hw, const PlanOptions& options, bool gpu_backend) {
  FitReport report{.chosen = plan(model, hw, options), .applied = std::nullopt, .lines = {}};
  const PlanResult& best = report.chosen;
  const std::string file = std::filesystem::path(model.name).filename().string();
  report.lines.push_back(fmt::format("{} ({}) on {}: {}", file, model.quant, hw.name.empty() ? hw.id : hw.name,
                                     best.placement.description));
  report.lines.push_back(memory_line(best));
  report.lines.push_back(speed_line(best));
  for (const std::string& note : best.notes) report.lines.push_back("note: " + note);
  if (uses_gpu(best.placement.kind) && !gpu_backend) {
    Hardware cpu_only = hw;
    cpu_only.n_gpu = 0;
    cpu_only.unified = false;
    cpu_only.accel = AccelKind::kNone;
    report.applied = plan(model, cpu_only, options);
    const PlanResult& cpu = *report.applied;
    report.lines.push_back(fmt::format("this build of r1 has no GPU backend yet, so the model runs on the CPU: {}",
                                       cpu.placement.description));
    report.lines.push_back("on the CPU: " + speed_line(cpu));
  }
  return report;
}

}  // namespace r1::plan
