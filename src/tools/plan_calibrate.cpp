// Calibration of the planner's CPU efficiency factors: bisection on each factor through plan() itself.
#include "plan_calibrate.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>

#include <fmt/format.h>

#include "atomic_file.h"
#include "error.h"
#include "plan_estimate.h"

namespace r1::plan {
namespace {

// The x in [lo, hi] where f(x) = target, for f increasing in x (bisection in log space, where efficiency
// factors live). Returns lo or hi when the target is outside [f(lo), f(hi)].
double solve_increasing(const std::function<double(double)>& f, double target, double lo, double hi) {
  if (f(lo) >= target) return lo;
  if (f(hi) <= target) return hi;
  for (int i = 0; i < 60; ++i) {
    const double mid = std::sqrt(lo * hi);
    (f(mid) < target ? lo : hi) = mid;
  }
  return std::sqrt(lo * hi);
}

}  // namespace

CalibrationResult fit_cpu_efficiency(const CalibrationInput& in) {
  if (!(in.generation_tps > 0) || !(in.prompt_tps >= 0) || (in.prompt_tps > 0 && in.n_prompt <= 0)) {
    throw Error(fmt::format("calibration needs a positive generation speed (got {}) and a prompt speed with its "
                            "token count (got {} tok/s over {} tokens)",
                            in.generation_tps, in.prompt_tps, in.n_prompt));
  }
  Hardware hw = in.hw;  // CPU factors: plan as if no GPU were there
  hw.n_gpu = 0;
  hw.accel = AccelKind::kNone;
  hw.gpu_mem = hw.gpu_bw = hw.gpu_flops = 0;
  PlanOptions options;
  options.n_ctx = std::max(1, in.n_prompt);
  options.n_ubatch = std::max(1, in.n_prompt);

  const Efficiency base = default_efficiency(AccelKind::kNone);
  CalibrationResult r;
  r.cpu = base;
  const auto predict = [&](const Efficiency& e) {
    options.cpu_efficiency = e;
    return plan::plan(in.model, hw, options);
  };
  const PlanResult probe = predict(base);
  if (!probe.fits) throw Error(fmt::format("the benchmarked model does not fit this machine's planned memory"));

  // One scale for both read efficiencies, each kept within (0, 1].
  const double max_scale = 1.0 / std::max(base.decode_bw, base.decode_bw_moe);
  const auto with_scale = [&](double s) {
    Efficiency e = base;
    e.decode_bw = base.decode_bw * s;
    e.decode_bw_moe = base.decode_bw_moe * s;
    return e;
  };
  const double scale = solve_increasing([&](double s) { return predict(with_scale(s)).generation_tps; },
                                        in.generation_tps, 0.01 / base.decode_bw_moe, max_scale);
  r.cpu = with_scale(scale);
  if (scale >= max_scale) {
    r.notes.push_back(fmt::format("generation ({:.1f} tok/s) is at or above what the measured read bandwidth allows; "
                                  "read efficiency set to its maximum (a model this small may run from the caches)",
                                  in.generation_tps));
  }

  if (in.prompt_tps > 0) {
    const auto with_flops = [&](double f) {
      Efficiency e = r.cpu;
      e.flops = f;
      return e;
    };
    const double lo = 0.01, hi = 1.0;
    const auto prompt_at = [&](double f) { return predict(with_flops(f)).prompt_tps; };
    if (prompt_at(hi) == prompt_at(lo)) {
      r.notes.push_back("prompt processing is read-bound in the planner's model for this file; flops left at its default");
    } else {
      const double f = solve_increasing(prompt_at, in.prompt_tps, lo, hi);
      r.cpu.flops = f;
      if (f >= hi) r.notes.push_back("prompt processing is at or above the planner's compute peak; flops set to 1");
    }
  } else {
    r.notes.push_back("no prompt measurement; flops left at its default");
  }
  r.notes.push_back("layer_overhead_s and extra_socket_gain keep their defaults (one model size, one socket)");
  const PlanResult fitted = predict(r.cpu);
  r.predicted_prompt_tps = fitted.prompt_tps;
  r.predicted_generation_tps = fitted.generation_tps;
  return r;
}

std::string default_efficiency_path() {
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg != nullptr && *xdg != '\0') {
    return (std::filesystem::path(xdg) / "r1" / "efficiency.json").string();
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return (std::filesystem::path(home) / ".config" / "r1" / "efficiency.json").string();
  }
  return "";
}

void save_cpu_efficiency(const std::string& path, const Efficiency& cpu) {
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (!dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) throw Error(fmt::format("cannot create the directory: {}", ec.message())).file(dir.string());
  }
  nlohmann::ordered_json j;
  j["cpu"] = cpu.to_json();
  const std::string text = j.dump(2) + "\n";
  AtomicFile out(path);
  out.write(text.data(), text.size());
  out.commit();
}

void load_efficiency_file(const std::string& path, PlanOptions& options) {
  std::ifstream in(path);
  if (!in) throw Error("cannot read efficiency file").file(path);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in, nullptr, true, false);
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("efficiency file is not JSON: {}", e.what())).file(path);
  }
  try {
    if (j.contains("accelerator")) {
      Efficiency e;
      e.source = path;
      e.update_from_json(j["accelerator"]);
      options.accel_efficiency = e;
    }
    if (j.contains("cpu")) {
      Efficiency e = default_efficiency(AccelKind::kNone);
      e.source = path;
      e.update_from_json(j["cpu"]);
      options.cpu_efficiency = e;
    }
  } catch (Error& e) {
    e.file(path);
    throw;
  }
}

std::string load_saved_calibration(PlanOptions& options) {
  const std::string path = default_efficiency_path();
  if (path.empty() || !std::filesystem::exists(path)) return "";
  load_efficiency_file(path, options);
  return path;
}

}  // namespace r1::plan
