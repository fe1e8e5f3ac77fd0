// Detection of the machine r1 runs on, for `r1 plan`: CPU (model, ISA, cores, sockets, clock), RAM, measured
// read bandwidth, and CUDA GPUs through the driver library loaded at run time (no toolkit at build time).
// The catalog rows and the efficiency factors are in hardware_catalog.cpp.
#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "cpu_features.h"
#include "hardware_catalog.h"
#include "process_memory.h"

namespace r1::plan {
namespace {

struct CpuInfo {
  int sockets = 1;
  double mhz = 0;
};

CpuInfo read_cpuinfo() {
  CpuInfo info;
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  std::set<std::string> physical_ids;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon);
    while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.pop_back();
    const std::string value = colon + 2 <= line.size() ? line.substr(colon + 2) : "";
    if (key == "physical id") physical_ids.insert(value);
    if (key == "cpu MHz" && info.mhz == 0) info.mhz = std::atof(value.c_str());
  }
  // The highest clock the CPU reports, when cpufreq is present (kHz).
  std::ifstream max_freq("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq");
  double khz = 0;
  if (max_freq >> khz && khz > 0) info.mhz = khz / 1000.0;
  if (!physical_ids.empty()) info.sockets = static_cast<int>(physical_ids.size());
  return info;
}

// ---- CUDA driver API, loaded at run time ----
// Only the handful of entry points needed, declared with the driver's C types (CUresult = int, CUdevice = int).
using CuInit = int (*)(unsigned);
using CuDeviceGetCount = int (*)(int*);
using CuDeviceGet = int (*)(int*, int);
using CuDeviceGetName = int (*)(char*, int, int);
using CuDeviceTotalMem = int (*)(size_t*, int);
using CuDeviceGetAttribute = int (*)(int*, int, int);

// CUdevice_attribute values from the CUDA driver API (cuda.h).
constexpr int kAttrClockRate = 13;         // kHz
constexpr int kAttrSmCount = 16;
constexpr int kAttrMemoryClockRate = 36;   // kHz
constexpr int kAttrMemoryBusWidth = 37;    // bits
constexpr int kAttrCcMajor = 75;
constexpr int kAttrCcMinor = 76;

// Dense FP16 tensor FLOP per clock per SM, by compute capability (matches the vendor peaks of the catalog:
// e.g. RTX 4090 128 SMs × 1024 × 2.52 GHz = 330 TFLOPS; H100 SXM 132 × 4096 × 1.83 GHz = 989 TFLOPS).
double tensor_flop_per_clock_per_sm(int major, int minor) {
  if (major >= 9) return 4096;                 // Hopper (and data-centre Blackwell at least this)
  if (major == 8 && minor == 0) return 2048;   // A100
  if (major >= 7) return 1024;                 // Volta/Turing/GeForce Ampere, Ada, GeForce Blackwell (12.x)
  return 256;                                  // no tensor cores: FP32 FMA rate, roughly
}

struct GpuInfo {
  std::string name;
  double mem = 0;
  double bw = 0;
  double flops = 0;
};

std::vector<GpuInfo> detect_cuda_gpus(std::string* note) {
  std::vector<GpuInfo> gpus;
  void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    *note = "no CUDA driver (libcuda.so.1 not found)";
    return gpus;
  }
  const auto sym = [lib](const char* name) { return dlsym(lib, name); };
  const auto init = reinterpret_cast<CuInit>(sym("cuInit"));
  const auto get_count = reinterpret_cast<CuDeviceGetCount>(sym("cuDeviceGetCount"));
  const auto get = reinterpret_cast<CuDeviceGet>(sym("cuDeviceGet"));
  const auto get_name = reinterpret_cast<CuDeviceGetName>(sym("cuDeviceGetName"));
  const auto total_mem = reinterpret_cast<CuDeviceTotalMem>(sym("cuDeviceTotalMem_v2"));
  const auto attr = reinterpret_cast<CuDeviceGetAttribute>(sym("cuDeviceGetAttribute"));
  int count = 0;
  if (!init || !get_count || !get || !get_name || !total_mem || !attr || init(0) != 0 || get_count(&count) != 0) {
    *note = "CUDA driver present but not usable (cuInit failed)";
    dlclose(lib);
    return gpus;
  }
  for (int i = 0; i < count; ++i) {
    int dev = 0;
    if (get(&dev, i) != 0) continue;
    GpuInfo g;
    char name[256] = {};
    if (get_name(name, sizeof(name) - 1, dev) == 0) g.name = name;
    size_t bytes = 0;
    if (total_mem(&bytes, dev) == 0) g.mem = static_cast<double>(bytes);
    int mem_khz = 0, bus_bits = 0, sm = 0, clock_khz = 0, major = 0, minor = 0;
    attr(&mem_khz, kAttrMemoryClockRate, dev);
    attr(&bus_bits, kAttrMemoryBusWidth, dev);
    attr(&sm, kAttrSmCount, dev);
    attr(&clock_khz, kAttrClockRate, dev);
    attr(&major, kAttrCcMajor, dev);
    attr(&minor, kAttrCcMinor, dev);
    // The driver reports the memory clock such that two transfers per clock give the data rate (GDDR6X:
    // 10501 MHz × 2 × 384 bit / 8 = 1008 GB/s on an RTX 4090; HBM3: 2619 MHz × 2 × 5120 / 8 = 3.35 TB/s).
    g.bw = 2.0 * mem_khz * 1e3 * bus_bits / 8.0;
    g.flops = sm * tensor_flop_per_clock_per_sm(major, minor) * clock_khz * 1e3;
    gpus.push_back(g);
  }
  *note = fmt::format("{} CUDA GPU(s) via the driver API", gpus.size());
  dlclose(lib);
  return gpus;
}

}  // namespace

double measure_read_bandwidth(uint64_t bytes, int threads) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const size_t n = std::max<size_t>(bytes / sizeof(uint64_t), static_cast<size_t>(threads) * 1024);
  std::unique_ptr<uint64_t[]> buffer(new uint64_t[n]);
  const size_t chunk = (n + threads - 1) / threads;
  std::vector<uint64_t> sums(static_cast<size_t>(threads) * 8, 0);  // one cache line per thread
  const auto run = [&](bool fill) {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        const size_t begin = std::min(n, t * chunk), end = std::min(n, begin + chunk);
        uint64_t* p = buffer.get();
        if (fill) {  // first touch by the reading thread (NUMA-local pages)
          for (size_t i = begin; i < end; ++i) p[i] = i;
          return;
        }
        uint64_t a = 0, b = 0, c = 0, d = 0;
        size_t i = begin;
        for (; i + 4 <= end; i += 4) {
          a += p[i];
          b += p[i + 1];
          c += p[i + 2];
          d += p[i + 3];
        }
        for (; i < end; ++i) a += p[i];
        sums[static_cast<size_t>(t) * 8] += a + b + c + d;
      });
    }
    for (auto& th : pool) th.join();
  };
  run(true);
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    run(false);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (s > 0) best = std::max(best, static_cast<double>(n * sizeof(uint64_t)) / s);
  }
  volatile uint64_t sink = 0;
  for (uint64_t v : sums) sink = sink + v;
  (void)sink;
  return best;
}

Hardware detect_this_machine(const DetectOptions& options) {
  Hardware h;
  h.id = "this";
  const CpuFeatures features = detect_cpu_features();
  const CpuInfo info = read_cpuinfo();
  h.cpu = features.brand.empty() ? std::string("unknown CPU") : features.brand;
  while (!h.cpu.empty() && h.cpu.back() == ' ') h.cpu.pop_back();
  h.isa = features.best_isa();
  h.cpu_cores = static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  h.sockets = info.sockets;
  h.ram = static_cast<double>(meminfo_bytes("MemTotal"));
  // int8 ops per cycle per core (the quantized matmul path): two 256-bit multiply-add pipes × 32 int8 pairs ×
  // 2 ops; AVX-512 cores are counted at the same rate (Zen 4/5 run 512-bit as two 256-bit halves).
  const double flop_per_cycle = h.isa == "scalar" ? 16.0 : 128.0;
  const double ghz = info.mhz > 0 ? info.mhz / 1000.0 : 2.5;
  h.cpu_flops = h.cpu_cores * ghz * 1e9 * flop_per_cycle;
  std::vector<std::string> basis;
  basis.push_back(fmt::format("CPU {} ({} threads, {} socket(s), {:.2f} GHz, {}): peak derived as threads x clock x "
                              "{:.0f} int8 ops/cycle",
                              h.cpu, h.cpu_cores, h.sockets, ghz, h.isa, flop_per_cycle));
  basis.push_back(fmt::format("RAM {:.1f} GiB from /proc/meminfo", h.ram / kGiB));
  if (options.measure_bandwidth) {
    h.ram_bw = measure_read_bandwidth(options.buffer_bytes, options.threads);
    h.ram_bw_measured = true;
    double load = 0;
    std::ifstream("/proc/loadavg") >> load;
    basis.push_back(fmt::format("read bandwidth {:.1f} GB/s measured ({} MiB, best of 5, load average {:.1f}{})",
                                h.ram_bw / kGB, options.buffer_bytes >> 20, load,
                                load > 0.5 * h.cpu_cores ? ": busy machine, the figure is low; rerun when idle" : ""));
  } else {
    basis.push_back("read bandwidth not measured");
  }
  if (options.detect_gpus) {
    std::string note;
    const std::vector<GpuInfo> gpus = detect_cuda_gpus(&note);
    basis.push_back(note);
    if (!gpus.empty()) {
      // The planner treats several GPUs as equal; with mixed cards it plans with the smallest.
      h.accel = AccelKind::kCuda;
      h.n_gpu = static_cast<int>(gpus.size());
      h.gpu_mem = gpus.front().mem;
      h.gpu_bw = gpus.front().bw;
      h.gpu_flops = gpus.front().flops;
      for (const GpuInfo& g : gpus) {
        h.gpu_mem = std::min(h.gpu_mem, g.mem);
        h.gpu_bw = std::min(h.gpu_bw, g.bw);
        h.gpu_flops = std::min(h.gpu_flops, g.flops);
        basis.push_back(fmt::format("GPU {}: {:.1f} GiB, {:.0f} GB/s (memory clock x bus width), {:.0f} TFLOPS "
                                    "(SMs x clock x tensor rate)",
                                    g.name, g.mem / kGiB, g.bw / kGB, g.flops / kTflops));
      }
      h.host_link_bw = 31.5 * kGB;  // PCIe 4.0 x16 assumed; the driver does not report the link here
    }
  }
  h.name = h.n_gpu > 0 ? fmt::format("this machine: {} + {} x GPU", h.cpu, h.n_gpu) : "this machine: " + h.cpu;
  h.host = "this machine";
  std::string joined;
  for (const auto& b : basis) joined += (joined.empty() ? "" : "; ") + b;
  h.basis = joined;
  return h;
}

}  // namespace r1::plan
