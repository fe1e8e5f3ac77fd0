// The hardware catalog behind `r1 plan`: one row per machine (memory capacity, bandwidth, compute peak,
// interconnect), the efficiency factors that turn those peaks into expected speed, and detection of the
// machine r1 runs on. The planner that uses them lives in plan_estimate.h.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace r1::plan {

inline constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
inline constexpr double kGB = 1e9;
inline constexpr double kTflops = 1e12;

enum class AccelKind { kNone, kCuda, kApple };

// How close a backend gets to its peaks. These are the numbers `r1 plan --calibrate` (via `r1 bench`) will
// fit for this machine; until then each kind of device has the defaults from default_efficiency(), chosen
// from the published measurements listed in docs/PLANNING.md.
struct Efficiency {
  double decode_bw = 0.6;          // fraction of peak read bandwidth reached streaming dense weights + KV
  double decode_bw_moe = 0.45;     // the same for routed-expert weights (gathered, many small matmuls)
  double flops = 0.4;              // fraction of peak FLOP/s reached in prompt processing (batched matmuls)
  double layer_overhead_s = 0.0;   // fixed time per layer per decode step (launches, barriers, syncs)
  double extra_socket_gain = 0.0;  // CPU: share of each further socket's bandwidth decode gains (NUMA)
  std::string source = "default";  // "default" or where calibration came from

  nlohmann::ordered_json to_json() const;
  // Reads the fields present in j over *this (a calibration file may set only some); bad values are r1::Error.
  void update_from_json(const nlohmann::json& j);
};

Efficiency default_efficiency(AccelKind kind);

// One machine. A discrete-GPU row assumes the host it is usually paired with (stated in `host`); a CPU-only
// row has n_gpu = 0; an Apple row has unified = true (the GPU works in the same RAM, at the same bandwidth).
// Capacities are bytes, bandwidths bytes/s, peaks op/s (FP16 tensor, dense, for GPUs; int8 dot products for CPUs).
struct Hardware {
  std::string id;    // "rtx4090"
  std::string name;  // "NVIDIA GeForce RTX 4090 24 GB"
  AccelKind accel = AccelKind::kNone;
  int n_gpu = 0;
  double gpu_mem = 0;        // per GPU
  double gpu_bw = 0;         // per GPU
  double gpu_flops = 0;      // per GPU
  double gpu_link_bw = 0;    // GPU↔GPU (NVLink); 0 when they talk over PCIe
  double host_link_bw = 0;   // host↔GPU (PCIe), per direction
  bool unified = false;      // Apple: the GPU uses host RAM
  std::string host;          // the host assumed for a GPU row, e.g. "desktop, 64 GB dual-channel DDR5-5600"
  double ram = 0;            // host RAM
  double ram_bw = 0;         // host RAM read bandwidth, all sockets together
  bool ram_bw_measured = false;  // true: measured here (not a spec sheet figure)
  double cpu_flops = 0;
  int sockets = 1;
  int cpu_cores = 0;
  std::string cpu;           // CPU model, for detected machines and CPU rows
  std::string isa;           // "avx512", "avx2", "neon", "scalar" (detected machine only)
  std::string basis;         // where the figures come from (spec sheets, derivations, measurements)
};

// The catalog, in table order.
std::span<const Hardware> hardware_catalog();
// By id, case-insensitive ("rtx4090", "RTX4090"); nullptr when unknown.
const Hardware* find_hardware(std::string_view id);

struct DetectOptions {
  bool measure_bandwidth = true;   // time a multi-threaded read of a buffer larger than the caches
  uint64_t buffer_bytes = 512ull << 20;
  int threads = 0;                 // 0: one per hardware thread
  bool detect_gpus = true;         // load the CUDA driver library at run time when present
};

// This machine: CPU model and ISA, cores, RAM, measured read bandwidth, CUDA GPUs and their memory (through
// libcuda.so.1 loaded at run time, so no CUDA toolkit is needed at build time). Never throws for a missing
// driver or file; absent facts stay 0 and are reported in basis.
Hardware detect_this_machine(const DetectOptions& options);

// Best of a few timed passes reading `bytes` with `threads` threads; bytes/s.
double measure_read_bandwidth(uint64_t bytes, int threads);

nlohmann::ordered_json hardware_json(const Hardware& hw);

}  // namespace r1::plan
