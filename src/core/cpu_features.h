// CPU feature detection (x86 CPUID + XGETBV; the OS must also save the wide registers). Filled once by the
// caller and passed down; the kernels' dispatch table is chosen from it.
#pragma once

#include <string>

namespace r1 {

struct CpuFeatures {
  bool sse42 = false;
  bool avx = false;
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool bmi2 = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512dq = false;
  bool avx512vnni = false;
  bool avx512bf16 = false;
  bool avxvnni = false;
  bool neon = false;
  std::string vendor;
  std::string brand;  // e.g. "AMD EPYC 9R45 ..."

  // The most capable kernel ISA these features allow: "avx512", "avx2" or "scalar".
  std::string best_isa() const;
  // Space-separated list of the detected features, for logs and `r1 bench`.
  std::string summary() const;
};

CpuFeatures detect_cpu_features();

// Physical cores (distinct physical id + core id in /proc/cpuinfo); the hardware thread count when unknown.
// The default thread count: SMT siblings share the memory bandwidth generation is bound by.
int physical_core_count();

}  // namespace r1
