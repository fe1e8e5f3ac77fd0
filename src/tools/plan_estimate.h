// The planner behind `r1 plan`: for (model profile, machine, context length, cache type) it sizes memory
// (weights, KV cache, compute buffers), chooses a placement (all on the GPU(s), attention on the GPU with
// routed experts in RAM, a layer split, or CPU only), predicts prompt and generation speed with a roofline
// (bytes ÷ bandwidth × efficiency, FLOPs ÷ peak × efficiency, per device, plus transfers), and gives a
// verdict. Model profiles come from plan_profile.h / model_catalog.h, machines from hardware_catalog.h.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "hardware_catalog.h"
#include "plan_profile.h"
#include "type_table.h"

namespace r1::plan {

// Verdict thresholds on predicted generation speed (tokens/s, averaged over a full context window).
inline constexpr double kUsableTps = 30.0;  // at or above: usable for interactive reasoning
inline constexpr double kRunsTps = 5.0;     // below: technically runs

enum class Verdict { kUsable, kSlow, kTechnicallyRuns, kDoesNotFit };
std::string_view verdict_name(Verdict v);  // "usable", "slow", "technically runs", "does not fit"
Verdict verdict_for(bool fits, double generation_tps);

enum class PlacementKind {
  kAllGpu,        // every weight the forward pass multiplies, and the KV cache, on the GPU(s)
  kUnified,       // Apple: everything on the GPU in unified memory
  kExpertsInRam,  // MoE: attention, dense FFN, shared experts, output and KV on the GPU; routed experts in RAM
                  // except gpu_expert_layers layers' worth that also fit on the GPU
  kLayerSplit,    // gpu_layers whole layers (with their KV) on the GPU, the rest on the CPU
  kCpuOnly,       // everything in RAM
  kNone,          // does not fit anywhere
};
std::string_view placement_name(PlacementKind k);  // "gpu", "unified", "experts_in_ram", ...

struct PlanOptions {
  int64_t n_ctx = 8192;                    // context window planned for (KV cache size)
  GgmlType cache_type = GgmlType::kF16;    // KV cache type
  int64_t n_ubatch = 512;                  // prompt tokens per forward pass
  std::optional<Efficiency> accel_efficiency;  // overrides default_efficiency(hw.accel) (calibration)
  std::optional<Efficiency> cpu_efficiency;    // overrides default_efficiency(kNone)
  // What `--repack auto` copies at load for the CPU's prompt kernels: per weight type, the copy's bytes per
  // byte of the file's matrices (types absent: no copy). This machine's comes from its kernels
  // (repack_ratios_here); a catalog machine's CPU kernels are not known, so its plans count no copy.
  std::map<GgmlType, double> cpu_repack_ratio;
};

// The cpu_repack_ratio of the kernels r1 picks on this CPU.
std::map<GgmlType, double> repack_ratios_here();

// Fixed memory the planner sets aside (one place, so tests and docs can name them).
inline constexpr double kGpuReserveBytes = 0.5 * kGiB;   // per GPU: CUDA context, cuBLAS workspace
inline constexpr double kRamReserveMin = 2.0 * kGiB;     // host: OS and the program; at least this ...
inline constexpr double kRamReserveShare = 0.10;         // ... or this share of RAM, whichever is larger
inline constexpr double kUnifiedReserveMin = 8.0 * kGiB; // Apple: macOS and apps; at least this or 10 %
inline constexpr double kAppleDefaultGpuShare = 0.75;    // macOS's default GPU working-set limit (approx.)
inline constexpr double kSpecToMeasuredBw = 0.85;        // CPU: a spec-sheet DRAM figure → what a read loop sees
inline constexpr double kTransferLatencyS = 10e-6;       // one activation hand-over between devices

struct MemoryBreakdown {
  uint64_t weights = 0;
  uint64_t kv_cache = 0;
  uint64_t compute = 0;  // activation buffers on every device used, plus per-GPU reserve
  uint64_t repack = 0;   // the CPU's `--repack auto` copy of matrices for prompts (Placement::repack_bytes)
  uint64_t total() const { return weights + kv_cache + compute + repack; }
};

struct Placement {
  PlacementKind kind = PlacementKind::kNone;
  int gpu_layers = 0;          // layers whose attention (+ dense/shared FFN) run on the GPU(s)
  int gpu_expert_layers = 0;   // kExpertsInRam: layers whose routed experts are on the GPU(s) too
  bool output_on_gpu = false;
  uint64_t gpu_bytes = 0;      // needed on the GPU(s), all together
  uint64_t ram_bytes = 0;      // needed in host RAM (repack_bytes included)
  uint64_t repack_bytes = 0;   // `--repack auto`'s copy of the CPU's matrices, made when it fits beside the rest
  uint64_t repack_left_out = 0;  // a copy auto would make but that does not fit (prompts then pack per call)
  uint64_t gpu_capacity = 0;   // usable, all GPUs together
  uint64_t ram_capacity = 0;   // usable host RAM
  std::string description;     // one line for people
};

struct PlanResult {
  std::string model;
  std::string quant;
  std::string hardware;
  int64_t n_ctx = 0;
  std::string cache_type;
  uint64_t n_params = 0;
  double active_params = 0;
  MemoryBreakdown memory;
  bool fits = false;
  Placement placement;
  double prompt_tps = 0;             // prompt processing, one ubatch at the start of the context
  double generation_tps = 0;         // next token with an empty context (what tg benchmarks report)
  double generation_tps_at_ctx = 0;  // next token with a full context (KV reads grown to n_ctx)
  double generation_tps_mean = 0;    // averaged over filling the whole window (the verdict uses this)
  double roofline_tps = 0;           // the physical limit: bytes per token ÷ peak bandwidth, empty context
  double bytes_per_token = 0;        // decode, empty context
  Verdict verdict = Verdict::kDoesNotFit;
  std::vector<std::string> notes;
};

PlanResult plan(const ModelProfile& model, const Hardware& hw, const PlanOptions& options);

// A claimed generation speed checked against physics: nullopt when it is possible on this machine, else a
// sentence naming the limit it breaks (does not fit, or above the bandwidth limit).
std::optional<std::string> check_claim(const PlanResult& result, double claimed_tps);

// At least: model, quant, hardware, memory {weights, kv_cache, compute, total} (bytes), fits, placement,
// prompt_tps, generation_tps, verdict; plus the rest of PlanResult.
nlohmann::ordered_json plan_json(const PlanResult& result);
// One table (one row per result) for people.
std::string plan_table(const std::vector<PlanResult>& results);
// Best first: verdict class (usable, slow, technically runs, does not fit), then more parameters, then
// more bytes of weights (higher precision).
void rank_results(std::vector<PlanResult>& results);

std::string human_bytes(double bytes);

}  // namespace r1::plan
