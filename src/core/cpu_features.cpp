// CPUID-based detection; on non-x86 builds only NEON (aarch64) is reported.
#include "cpu_features.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <set>
#include <thread>
#include <utility>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define R1_X86 1
#endif

namespace r1 {

#if R1_X86
namespace {
struct Regs {
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
};
Regs cpuid(uint32_t leaf, uint32_t subleaf) {
  Regs r;
  __cpuid_count(leaf, subleaf, r.eax, r.ebx, r.ecx, r.edx);
  return r;
}
uint64_t xgetbv0() {
  uint32_t lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}
bool bit(uint32_t value, int n) { return (value >> n) & 1u; }
}  // namespace
#endif

CpuFeatures detect_cpu_features() {
  CpuFeatures f;
#if R1_X86
  const Regs r0 = cpuid(0, 0);
  char vendor[13] = {};
  std::memcpy(vendor + 0, &r0.ebx, 4);
  std::memcpy(vendor + 4, &r0.edx, 4);
  std::memcpy(vendor + 8, &r0.ecx, 4);
  f.vendor = vendor;
  const uint32_t max_leaf = r0.eax;

  const Regs r1 = cpuid(1, 0);
  f.sse42 = bit(r1.ecx, 20);
  const bool osxsave = bit(r1.ecx, 27);
  const uint64_t xcr0 = osxsave ? xgetbv0() : 0;
  const bool os_ymm = (xcr0 & 0x6) == 0x6;      // XMM and YMM state saved
  const bool os_zmm = (xcr0 & 0xe6) == 0xe6;    // plus opmask and ZMM state
  f.avx = bit(r1.ecx, 28) && os_ymm;
  f.fma = bit(r1.ecx, 12) && os_ymm;
  f.f16c = bit(r1.ecx, 29) && os_ymm;
  if (max_leaf >= 7) {
    const Regs r7 = cpuid(7, 0);
    f.avx2 = bit(r7.ebx, 5) && os_ymm;
    f.bmi2 = bit(r7.ebx, 8);
    f.avx512f = bit(r7.ebx, 16) && os_zmm;
    f.avx512dq = bit(r7.ebx, 17) && os_zmm;
    f.avx512bw = bit(r7.ebx, 30) && os_zmm;
    f.avx512vl = bit(r7.ebx, 31) && os_zmm;
    f.avx512vnni = bit(r7.ecx, 11) && os_zmm;
    const Regs r71 = cpuid(7, 1);
    f.avxvnni = bit(r71.eax, 4) && os_ymm;
    f.avx512bf16 = bit(r71.eax, 5) && os_zmm;
  }
  const Regs ext = cpuid(0x80000000, 0);
  if (ext.eax >= 0x80000004) {
    char brand[49] = {};
    for (uint32_t i = 0; i < 3; ++i) {
      const Regs r = cpuid(0x80000002 + i, 0);
      std::memcpy(brand + 16 * i + 0, &r.eax, 4);
      std::memcpy(brand + 16 * i + 4, &r.ebx, 4);
      std::memcpy(brand + 16 * i + 8, &r.ecx, 4);
      std::memcpy(brand + 16 * i + 12, &r.edx, 4);
    }
    f.brand = brand;
    while (!f.brand.empty() && f.brand.back() == ' ') f.brand.pop_back();
    while (!f.brand.empty() && f.brand.front() == ' ') f.brand.erase(f.brand.begin());
  }
#elif defined(__aarch64__)
  f.neon = true;
#endif
  return f;
}

int physical_core_count() {
  std::ifstream in("/proc/cpuinfo");
  std::set<std::pair<std::string, std::string>> cores;
  std::string line, physical_id = "0";
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos || colon == 0) continue;
    std::string key = line.substr(0, colon);
    while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.pop_back();
    const std::string value = colon + 2 <= line.size() ? line.substr(colon + 2) : "";
    if (key == "physical id") physical_id = value;
    if (key == "core id") cores.emplace(physical_id, value);
  }
  if (!cores.empty()) return static_cast<int>(cores.size());
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

std::string CpuFeatures::best_isa() const {
  if (avx512f && avx512bw && avx512vl && avx512vnni && fma && f16c) return "avx512";
  if (avx2 && fma && f16c) return "avx2";
  return "scalar";
}

std::string CpuFeatures::summary() const {
  std::string out;
  auto add = [&out](bool on, const char* name) {
    if (!on) return;
    if (!out.empty()) out += ' ';
    out += name;
  };
  add(sse42, "sse4.2");
  add(avx, "avx");
  add(avx2, "avx2");
  add(fma, "fma");
  add(f16c, "f16c");
  add(bmi2, "bmi2");
  add(avx512f, "avx512f");
  add(avx512bw, "avx512bw");
  add(avx512vl, "avx512vl");
  add(avx512dq, "avx512dq");
  add(avx512vnni, "avx512vnni");
  add(avx512bf16, "avx512bf16");
  add(avxvnni, "avxvnni");
  add(neon, "neon");
  return out.empty() ? "none" : out;
}

}  // namespace r1
