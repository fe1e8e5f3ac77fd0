// --fit: detect this machine, plan the model's placement, print it (see model_fit.h).
#include "model_fit.h"

#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

#include "error.h"
#include "gguf_set.h"
#include "hardware_catalog.h"
#include "plan_calibrate.h"
#include "plan_fit.h"
#include "type_table.h"

namespace r1::cli {

bool report_fit(const ModelFlags& flags, const std::string& model, CliContext& ctx) {
  const std::optional<plan::FitMode> mode = plan::fit_mode_from_name(flags.fit);
  if (!mode) throw Error(fmt::format("--fit '{}': expected on, off or auto", flags.fit));
  if (*mode == plan::FitMode::kOff) return false;
  // GPU detection is cheap (the driver library, when present); the bandwidth is measured only when planning.
  plan::Hardware hw = plan::detect_this_machine(plan::DetectOptions{.measure_bandwidth = false});
  if (!plan::fit_enabled(*mode, hw)) return false;
  constexpr uint64_t kProbeBytes = 256ull << 20;
  hw.ram_bw = plan::measure_read_bandwidth(kProbeBytes, flags.threads);
  hw.ram_bw_measured = true;

  const plan::ModelProfile profile = plan::profile_from_gguf(GgufSet::open(model));
  plan::PlanOptions options;
  // The context the engine will use: the one asked for, else the training context; planned at most 8192
  // tokens deep by default, as the engine reserves the cache lazily and caps it by free memory.
  options.n_ctx = flags.ctx_size > 0 ? flags.ctx_size : std::min<int64_t>(profile.shape.n_ctx_train, 8192);
  const TypeInfo* cache = find_type_by_name(flags.cache_type_k);
  if (cache != nullptr) options.cache_type = cache->type;
  options.cpu_repack_ratio = plan::repack_ratios_here();
  const std::string calibrated = plan::load_saved_calibration(options);

  const plan::FitReport report = plan::fit_model(profile, hw, options, /*gpu_backend=*/false);
  for (const std::string& line : report.lines) std::fprintf(stderr, "r1: fit: %s\n", line.c_str());
  const std::string efficiency = calibrated.empty() ? "the defaults (r1 plan --calibrate fits them to this machine)"
                                                   : "the calibration in " + calibrated;
  std::fprintf(stderr, "r1: fit: read bandwidth %.1f GB/s measured just now; efficiency factors: %s\n",
               hw.ram_bw / plan::kGB, efficiency.c_str());
  ctx.log.debug("fit: {}", hw.basis);
  return true;
}

}  // namespace r1::cli
