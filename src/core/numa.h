// NUMA placement for the thread pool, as llama.cpp's --numa: the machine's nodes and their CPUs (from sysfs),
// and the CPU each pool thread is pinned to. Under --numa the weights are memory-mapped (unless --no-mmap) and a
// page lands on the node of the thread that first reads it, so pinned threads that always read the same rows
// (ThreadPool's static schedule) keep their rows in local memory.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace r1 {

enum class NumaMode {
  kOff,         // threads float wherever the scheduler puts them
  kDistribute,  // threads spread evenly over the nodes, each pinned to one CPU
  kIsolate,     // threads only on the node the program started on, each pinned to one of its CPUs
};

// "distribute", "isolate" or "off"; nullopt for anything else.
std::optional<NumaMode> parse_numa_mode(std::string_view text);
const char* numa_mode_name(NumaMode mode);

struct NumaNode {
  int id = 0;
  std::vector<int> cpus;  // ascending
};

// Linux's CPU list syntax ("0-3,8,10-11") to ascending CPU numbers. Throws r1::Error when malformed.
std::vector<int> parse_cpu_list(std::string_view text);

// The nodes under root (Linux: /sys/devices/system/node/nodeN/cpulist), restricted to the CPUs this process
// may run on; nodes left without CPUs are dropped. Without that folder: one node holding the allowed CPUs.
std::vector<NumaNode> read_numa_nodes(const std::string& root = "/sys/devices/system/node");

// The CPUs this process may run on (sched_getaffinity), and the one the calling thread runs on now.
std::vector<int> allowed_cpus();
int current_cpu();

// The CPU for each of n_threads pool threads (thread 0 is the calling thread); empty for kOff.
// distribute: thread i goes to node i % n_nodes, taking that node's CPUs in turn. isolate: every thread on the
// node holding start_cpu (the first node when none does), its CPUs in turn. More threads than CPUs wrap around.
std::vector<int> numa_thread_cpus(const std::vector<NumaNode>& nodes, NumaMode mode, int n_threads, int start_cpu);

// Linux's automatic NUMA balancing moves pages behind the threads' backs (llama.cpp warns about it too).
bool numa_balancing_enabled();

// Pins the calling thread to one CPU, or to a set of CPUs. False when the kernel refuses.
bool pin_current_thread(const std::vector<int>& cpus);

}  // namespace r1
