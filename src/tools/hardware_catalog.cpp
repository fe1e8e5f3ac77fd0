// The hardware catalog rows and the efficiency defaults. Detection of this machine is in hardware_detect.cpp.
//
// Figures are vendor spec-sheet numbers unless a row says "derived". Conventions:
//   - capacity: the marketed size, read as GiB (GPU and DIMM sizes are binary: a "24 GB" card has 24 GiB).
//   - bandwidth: decimal GB/s as the vendor states it (data rate × bus width / 8).
//   - GPU peak: FP16 tensor throughput, dense (sparsity figures halved), as the vendor lists it.
//   - CPU peak: int8 dot-product throughput (the quantized matmul path), derived as cores × clock × 128 ops
//     per cycle (two 256-bit multiply-add pipes, 32 int8 pairs each, multiply and add counted apart).
//   - PCIe: 4.0 x16 = 31.5 GB/s, 5.0 x16 = 63 GB/s per direction (PCI-SIG rates, 128b/130b coding).
#include "hardware_catalog.h"

#include <algorithm>
#include <cctype>

#include "error.h"

namespace r1::plan {
namespace {

constexpr double kPcie4 = 31.5 * kGB;
constexpr double kPcie5 = 63.0 * kGB;

// The hosts assumed for GPU rows.
struct Host {
  const char* text;
  double ram;
  double ram_bw;
  double cpu_flops;
  int cores;
  const char* cpu;
};
// Desktop: 64 GiB dual-channel DDR5-5600 = 2 × 8 B × 5600 MT/s = 89.6 GB/s; 8 Zen 4 cores × 5.0 GHz × 128
// int8 ops/cycle = 5.1 TOPS (derived).
constexpr Host kDesktopHost{"desktop: 64 GiB dual-channel DDR5-5600, 8-core CPU, PCIe", 64 * kGiB, 89.6 * kGB,
                            5.1 * kTflops, 8, "8-core desktop CPU (Zen 4 class)"};
// Server: one EPYC 9654 socket (96 cores, 12 × DDR5-4800 = 12 × 38.4 = 460.8 GB/s, AMD spec sheet), 768 GiB;
// 96 cores × 2.4 GHz base × 128 int8 ops/cycle = 29.5 TOPS (derived).
constexpr Host kServerHost{"server: one EPYC 9654 socket, 768 GiB 12-channel DDR5-4800", 768 * kGiB, 460.8 * kGB,
                           29.5 * kTflops, 96, "AMD EPYC 9654 (96 cores)"};

Hardware gpu_row(std::string id, std::string name, int n_gpu, double mem_gib, double bw_gbs, double tflops,
                 double link_bw, double host_link, const Host& host, std::string basis) {
  Hardware h;
  h.id = std::move(id);
  h.name = std::move(name);
  h.accel = AccelKind::kCuda;
  h.n_gpu = n_gpu;
  h.gpu_mem = mem_gib * kGiB;
  h.gpu_bw = bw_gbs * kGB;
  h.gpu_flops = tflops * kTflops;
  h.gpu_link_bw = link_bw;
  h.host_link_bw = host_link;
  h.host = host.text;
  h.ram = host.ram;
  h.ram_bw = host.ram_bw;
  h.cpu_flops = host.cpu_flops;
  h.cpu_cores = host.cores;
  h.cpu = host.cpu;
  h.basis = std::move(basis);
  return h;
}

// Apple silicon: CPU and GPU share one pool of unified memory at one bandwidth. The GPU peak is derived as
// GPU cores × 128 FP32 lanes × 2 FLOP × clock (FP16 runs at the same rate on these GPUs).
Hardware apple_row(std::string id, std::string name, double ram_gib, double bw_gbs, double gpu_tflops,
                   int cpu_cores, std::string basis) {
  Hardware h;
  h.id = std::move(id);
  h.name = name;
  h.accel = AccelKind::kApple;
  h.n_gpu = 1;
  h.unified = true;
  h.gpu_mem = ram_gib * kGiB;
  h.gpu_bw = bw_gbs * kGB;
  h.gpu_flops = gpu_tflops * kTflops;
  h.host = "unified memory";
  h.ram = ram_gib * kGiB;
  h.ram_bw = bw_gbs * kGB;
  h.cpu_flops = 1.0 * kTflops;  // not used: in unified memory everything runs on the GPU
  h.cpu_cores = cpu_cores;
  h.cpu = std::move(name);
  h.basis = std::move(basis);
  return h;
}

Hardware cpu_row(std::string id, std::string name, double ram_gib, double bw_gbs, double tflops, int cores,
                 int sockets, std::string basis) {
  Hardware h;
  h.id = std::move(id);
  h.name = name;
  h.ram = ram_gib * kGiB;
  h.ram_bw = bw_gbs * kGB;
  h.cpu_flops = tflops * kTflops;
  h.cpu_cores = cores;
  h.sockets = sockets;
  h.cpu = std::move(name);
  h.basis = std::move(basis);
  return h;
}

std::vector<Hardware> build_catalog() {
  std::vector<Hardware> rows;
  const Host& d = kDesktopHost;
  const Host& s = kServerHost;
  // ---- NVIDIA GeForce (desktop host, PCIe) ----
  rows.push_back(gpu_row("rtx3060", "NVIDIA GeForce RTX 3060 12 GB", 1, 12, 360, 51.2, 0, kPcie4, d,
                         "NVIDIA spec: 12 GB GDDR6, 192-bit, 15 Gbps = 360 GB/s; FP16 tensor derived: 28 SMs x "
                         "1024 FLOP/clk (FP16 accumulate) x 1.78 GHz boost = 51 TFLOPS"));
  rows.push_back(gpu_row("rtx3090", "NVIDIA GeForce RTX 3090 24 GB", 1, 24, 936.2, 142, 0, kPcie4, d,
                         "NVIDIA Ampere GA102 whitepaper: 24 GB GDDR6X 384-bit 19.5 Gbps = 936 GB/s; FP16 tensor "
                         "(FP16 acc.) 142 TFLOPS dense (284 sparse)"));
  rows.push_back(gpu_row("rtx4080", "NVIDIA GeForce RTX 4080 16 GB", 1, 16, 716.8, 194.9, 0, kPcie4, d,
                         "NVIDIA Ada whitepaper: 16 GB GDDR6X 256-bit 22.4 Gbps = 716.8 GB/s; FP16 tensor (FP16 "
                         "acc.) 194.9 TFLOPS dense (389.9 sparse)"));
  rows.push_back(gpu_row("rtx4090", "NVIDIA GeForce RTX 4090 24 GB", 1, 24, 1008, 330.3, 0, kPcie4, d,
                         "NVIDIA Ada whitepaper: 24 GB GDDR6X 384-bit 21 Gbps = 1008 GB/s; FP16 tensor (FP16 acc.) "
                         "330.3 TFLOPS dense (660.6 sparse)"));
  rows.push_back(gpu_row("rtx5090", "NVIDIA GeForce RTX 5090 32 GB", 1, 32, 1792, 419, 0, kPcie5, d,
                         "NVIDIA spec: 32 GB GDDR7 512-bit 28 Gbps = 1792 GB/s; FP16 tensor 838 TFLOPS sparse "
                         "-> 419 dense; PCIe 5.0 x16"));
  // ---- NVIDIA data centre (SXM, server host) ----
  rows.push_back(gpu_row("a100-40gb", "NVIDIA A100 40 GB SXM", 1, 40, 1555, 312, 600 * kGB, kPcie4, s,
                         "NVIDIA A100 datasheet: 40 GB HBM2 1555 GB/s; FP16 tensor 312 TFLOPS dense; NVLink 600 GB/s"));
  rows.push_back(gpu_row("a100-80gb", "NVIDIA A100 80 GB SXM", 1, 80, 2039, 312, 600 * kGB, kPcie4, s,
                         "NVIDIA A100 datasheet: 80 GB HBM2e 2039 GB/s (SXM); FP16 tensor 312 TFLOPS dense; NVLink "
                         "600 GB/s"));
  rows.push_back(gpu_row("h100", "NVIDIA H100 80 GB SXM", 1, 80, 3350, 989.4, 900 * kGB, kPcie5, s,
                         "NVIDIA H100 datasheet (SXM5): 80 GB HBM3 3.35 TB/s; FP16 tensor 1979 TFLOPS sparse -> "
                         "989 dense; NVLink 900 GB/s"));
  rows.push_back(gpu_row("h200", "NVIDIA H200 141 GB SXM", 1, 140, 4800, 989.4, 900 * kGB, kPcie5, s,
                         "NVIDIA H200 datasheet (SXM): 141 GB HBM3e (nvidia-smi: 143771 MiB = 140 GiB) 4.8 TB/s; "
                         "FP16 tensor 989 TFLOPS dense; NVLink 900 GB/s"));
  rows.push_back(gpu_row("2xh100", "2 x NVIDIA H100 80 GB SXM (NVLink)", 2, 80, 3350, 989.4, 900 * kGB, kPcie5, s,
                         "two H100 SXM5 as in the h100 row, joined by NVLink 900 GB/s"));
  // A common home for the 671B model: a GPU for attention and the shared expert, the routed experts in RAM.
  rows.push_back(gpu_row("epyc-rtx4090", "AMD EPYC 9654 1 socket + NVIDIA GeForce RTX 4090 24 GB", 1, 24, 1008, 330.3,
                         0, kPcie4, s, "the rtx4090 row on the epyc-1s host (server host above)"));
  // ---- Apple silicon (unified memory) ----
  rows.push_back(apple_row("m3max-128", "Apple M3 Max 128 GB (40-core GPU)", 128, 400, 16.4, 16,
                           "Apple spec: M3 Max 16-core CPU / 40-core GPU, 400 GB/s, up to 128 GB; GPU derived: 40 x "
                           "128 x 2 x 1.6 GHz = 16.4 TFLOPS"));
  rows.push_back(apple_row("m4max-48", "Apple M4 Max 48 GB (40-core GPU)", 48, 546, 18.4, 16,
                           "Apple spec: M4 Max 16-core CPU / 40-core GPU, 546 GB/s, 48 GB; GPU derived: 40 x 128 x "
                           "2 x 1.8 GHz = 18.4 TFLOPS"));
  rows.push_back(apple_row("m4max-128", "Apple M4 Max 128 GB (40-core GPU)", 128, 546, 18.4, 16,
                           "Apple spec: M4 Max 16-core CPU / 40-core GPU, 546 GB/s, up to 128 GB; GPU derived as "
                           "m4max-48"));
  rows.push_back(apple_row("m2ultra-192", "Apple M2 Ultra 192 GB (76-core GPU)", 192, 800, 27.2, 24,
                           "Apple spec: M2 Ultra 24-core CPU / 76-core GPU, 800 GB/s, up to 192 GB; GPU 27.2 TFLOPS "
                           "(Apple). The M3 Ultra has no 192 GB configuration"));
  rows.push_back(apple_row("m3ultra-256", "Apple M3 Ultra 256 GB (80-core GPU)", 256, 819, 32.8, 32,
                           "Apple spec: M3 Ultra 32-core CPU / 80-core GPU, 819 GB/s, 96/256/512 GB; GPU derived: "
                           "2 x M3 Max 40-core"));
  rows.push_back(apple_row("m3ultra-512", "Apple M3 Ultra 512 GB (80-core GPU)", 512, 819, 32.8, 32,
                           "Apple spec: M3 Ultra 32-core CPU / 80-core GPU, 819 GB/s, 512 GB; GPU as m3ultra-256"));
  // ---- CPU only ----
  rows.push_back(cpu_row("desktop-ddr4", "Desktop, dual-channel DDR4-3200, 64 GB", 64, 51.2, 4.1, 8, 1,
                         "JEDEC DDR4-3200: 2 channels x 8 B x 3200 MT/s = 51.2 GB/s; 8 cores x 4.0 GHz x 128 int8 "
                         "ops/cycle (AVX2) = 4.1 TOPS (derived)"));
  rows.push_back(cpu_row("desktop-ddr5", "Desktop, dual-channel DDR5-5600, 64 GB", 64, 89.6, 5.1, 8, 1,
                         "JEDEC DDR5-5600: 2 channels x 8 B x 5600 MT/s = 89.6 GB/s; 8 Zen 4 cores x 5.0 GHz x 128 "
                         "int8 ops/cycle = 5.1 TOPS (derived)"));
  rows.push_back(cpu_row("epyc-1s", "AMD EPYC 9654, 1 socket, 12-channel DDR5-4800, 768 GB", 768, 460.8, 29.5, 96, 1,
                         "AMD EPYC 9654 spec: 96 cores, 12 x DDR5-4800 = 460.8 GB/s per socket; 96 x 2.4 GHz x 128 "
                         "int8 ops/cycle = 29.5 TOPS (derived)"));
  rows.push_back(cpu_row("epyc-2s", "AMD EPYC 9654, 2 sockets, 24-channel DDR5-4800, 1.5 TB", 1536, 921.6, 59.0, 192, 2,
                         "two epyc-1s sockets (xGMI between them): 921.6 GB/s in total, but one socket's bandwidth "
                         "per NUMA node"));
  return rows;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

double positive(const nlohmann::json& j, const char* key, double lo, double hi) {
  if (!j[key].is_number()) throw Error(fmt::format("efficiency field '{}' must be a number", key));
  const double v = j[key].get<double>();
  if (!(v >= lo && v <= hi)) throw Error(fmt::format("efficiency field '{}' = {} is outside [{}, {}]", key, v, lo, hi));
  return v;
}

}  // namespace

Efficiency default_efficiency(AccelKind kind) {
  // Chosen so the validation rows in docs/PLANNING.md come out near their published measurements; each is a
  // single number per kind of device until `r1 plan --calibrate` fits them to a machine.
  switch (kind) {
    case AccelKind::kCuda:
      return Efficiency{.decode_bw = 0.65, .decode_bw_moe = 0.35, .flops = 0.4, .layer_overhead_s = 25e-6};
    case AccelKind::kApple:
      return Efficiency{.decode_bw = 0.6, .decode_bw_moe = 0.45, .flops = 0.5, .layer_overhead_s = 30e-6};
    case AccelKind::kNone:
      break;
  }
  // CPU: llama.cpp reaches ~59 % of the measured read bandwidth on this project's machine (DESIGN.md field notes).
  // Prompt: llama.cpp's 137 tok/s there for the 1.5B Q4_K_M is ~0.68 of the int8 peak.
  return Efficiency{.decode_bw = 0.6, .decode_bw_moe = 0.45, .flops = 0.6, .layer_overhead_s = 10e-6,
                    .extra_socket_gain = 0.0};
}

nlohmann::ordered_json Efficiency::to_json() const {
  return {{"decode_bw", decode_bw},       {"decode_bw_moe", decode_bw_moe},
          {"flops", flops},               {"layer_overhead_s", layer_overhead_s},
          {"extra_socket_gain", extra_socket_gain}, {"source", source}};
}

void Efficiency::update_from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw Error("efficiency must be a JSON object");
  if (j.contains("decode_bw")) decode_bw = positive(j, "decode_bw", 0.01, 1.0);
  if (j.contains("decode_bw_moe")) decode_bw_moe = positive(j, "decode_bw_moe", 0.01, 1.0);
  if (j.contains("flops")) flops = positive(j, "flops", 0.01, 1.0);
  if (j.contains("layer_overhead_s")) layer_overhead_s = positive(j, "layer_overhead_s", 0.0, 0.1);
  if (j.contains("extra_socket_gain")) extra_socket_gain = positive(j, "extra_socket_gain", 0.0, 1.0);
  if (j.contains("source") && j["source"].is_string()) source = j["source"].get<std::string>();
}

std::span<const Hardware> hardware_catalog() {
  static const std::vector<Hardware> kCatalog = build_catalog();
  return kCatalog;
}

const Hardware* find_hardware(std::string_view id) {
  for (const Hardware& h : hardware_catalog()) {
    if (iequals(h.id, id)) return &h;
  }
  return nullptr;
}

nlohmann::ordered_json hardware_json(const Hardware& hw) {
  nlohmann::ordered_json j;
  j["id"] = hw.id;
  j["name"] = hw.name;
  j["accelerator"] = hw.accel == AccelKind::kCuda ? "cuda" : hw.accel == AccelKind::kApple ? "apple" : "none";
  j["n_gpu"] = hw.n_gpu;
  j["gpu_memory_bytes"] = static_cast<uint64_t>(hw.gpu_mem);
  j["gpu_bandwidth_bytes_per_s"] = hw.gpu_bw;
  j["gpu_flops"] = hw.gpu_flops;
  j["gpu_link_bytes_per_s"] = hw.gpu_link_bw;
  j["host_link_bytes_per_s"] = hw.host_link_bw;
  j["unified_memory"] = hw.unified;
  j["host"] = hw.host;
  j["ram_bytes"] = static_cast<uint64_t>(hw.ram);
  j["ram_bandwidth_bytes_per_s"] = hw.ram_bw;
  j["ram_bandwidth_measured"] = hw.ram_bw_measured;
  j["cpu_flops"] = hw.cpu_flops;
  j["sockets"] = hw.sockets;
  j["cpu_cores"] = hw.cpu_cores;
  j["cpu"] = hw.cpu;
  if (!hw.isa.empty()) j["isa"] = hw.isa;
  j["basis"] = hw.basis;
  return j;
}

}  // namespace r1::plan
