// What this process holds in RAM, as the kernel counts it (for -v reports and the memory tests).
#pragma once

#include <cstdint>

namespace r1 {

// Resident set size in bytes (VmRSS of /proc/self/status); 0 where it cannot be read.
uint64_t resident_bytes();

}  // namespace r1
