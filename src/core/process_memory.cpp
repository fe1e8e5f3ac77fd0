// Resident set size from /proc/self/status, machine memory from /proc/meminfo, fresh anonymous memory (see
// process_memory.h).
#include "process_memory.h"

#include <sys/mman.h>

#include <fstream>
#include <string>

#include <fmt/format.h>

namespace r1 {

uint8_t* map_fresh_memory(size_t bytes, bool populate) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  ::madvise(p, bytes, MADV_HUGEPAGE);  // advice only: without it the memory still works, in 4 KiB pages
  if (populate) ::madvise(p, bytes, MADV_POPULATE_WRITE);  // advice only: an older kernel says EINVAL
  return static_cast<uint8_t*>(p);
}

uint64_t resident_bytes() {
  std::ifstream in("/proc/self/status");
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") {
      uint64_t kb = 0;
      in >> kb;
      return kb * 1024;
    }
  }
  return 0;
}

uint64_t meminfo_bytes(std::string_view key) {
  std::ifstream in("/proc/meminfo");
  std::string name, unit;
  uint64_t kb = 0;
  while (in >> name >> kb) {
    std::getline(in, unit);  // " kB", or nothing for the counters
    if (name.size() == key.size() + 1 && name.compare(0, key.size(), key) == 0 && name.back() == ':') return kb * 1024;
  }
  return 0;
}

uint64_t available_memory_bytes() {
  const uint64_t bytes = meminfo_bytes("MemAvailable");
  return bytes ? bytes : uint64_t{8} << 30;
}

std::string larger_than_ram_warning(uint64_t model_bytes, uint64_t ram_bytes) {
  if (ram_bytes == 0 || model_bytes <= ram_bytes) return {};
  const double gib = 1024.0 * 1024.0 * 1024.0;
  return fmt::format(
      "the model ({:.1f} GiB) is larger than this machine's RAM ({:.1f} GiB). It still runs: the weights stay "
      "mapped and are read from disk through the page cache as each token needs them. Expect generation at the "
      "disk's speed rather than memory's, roughly (bytes each token reads that are not cached) / (disk read "
      "speed): seconds per token from NVMe, much slower from a hard disk. A smaller quantization that fits in "
      "RAM is usually much faster (r1 plan shows which).",
      static_cast<double>(model_bytes) / gib, static_cast<double>(ram_bytes) / gib);
}

}  // namespace r1
