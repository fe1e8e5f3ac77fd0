// What this process and this machine hold in RAM, as the kernel counts it (for -v reports, defaults, warnings
// and the memory tests).
#pragma once

#include <cstddef>
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

// Fresh private read-write memory of `bytes` (an anonymous mapping; release with munmap), asked for huge pages
// and, with populate, faulted in by the kernel in one call (MADV_POPULATE_WRITE, Linux 5.14 on; advice only:
// elsewhere the pages come at first touch). On a VM, where each page fault traps to the hypervisor, that took 0.09 s
// for 1.6 GB against 1.6–3.8 s of first touches in huge pages and 5.6–6.4 s in 4 KiB ones. Leave populate off
// where the first thread to touch a page should decide its NUMA node. nullptr (errno set) when the mapping fails.
uint8_t* map_fresh_memory(size_t bytes, bool populate);

// The warning r1 prints when a model's file is larger than the machine's RAM (empty when it fits): the weights
// then stream from disk through the page cache, so generation runs at the disk's speed, not memory's.
std::string larger_than_ram_warning(uint64_t model_bytes, uint64_t ram_bytes);

}  // namespace r1
