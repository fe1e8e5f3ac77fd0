// Resident set size from /proc/self/status (see process_memory.h).
#include "process_memory.h"

#include <fstream>
#include <string>

namespace r1 {

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

}  // namespace r1
