// What this process and this machine hold in RAM, as the kernel counts it (for -v reports, defaults, warnings
// and the memory tests).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace r1 {

// Resident set size in bytes (VmRSS of /proc/self/status); 0 where it cannot be read.
uint64_t resident_bytes();

// A line of /proc/meminfo in bytes ("MemTotal", "MemAvailable"); 0 where it cannot be read.
uint64_t meminfo_bytes(std::string_view key);

// MemAvailable in bytes, or 8 GiB where it cannot be read (a modest machine): what the defaults size against.
uint64_t available_memory_bytes();

// The warning r1 prints when a model's file is larger than the machine's RAM (empty when it fits): the weights
// then stream from disk through the page cache, so generation runs at the disk's speed, not memory's.
std::string larger_than_ram_warning(uint64_t model_bytes, uint64_t ram_bytes);

}  // namespace r1
