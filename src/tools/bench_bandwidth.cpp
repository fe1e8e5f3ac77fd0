// Machine read bandwidth for `r1 bench`: the fixed method (all hardware threads, 2 GiB buffer, best of 5).
#include "bench_bandwidth.h"

#include <algorithm>
#include <fstream>
#include <thread>

#include <fmt/format.h>

#include "hardware_catalog.h"

namespace r1::bench {

MachineBandwidth measure_machine_bandwidth(uint64_t buffer_bytes) {
  MachineBandwidth bw;
  bw.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  bw.buffer_bytes = buffer_bytes;
  std::ifstream("/proc/loadavg") >> bw.load_average;
  bw.bytes_per_second = plan::measure_read_bandwidth(buffer_bytes, bw.threads);  // best of 5 passes
  return bw;
}

std::string bandwidth_text(const MachineBandwidth& bw) {
  const std::string buffer = bw.buffer_bytes % (1ull << 30) == 0 ? fmt::format("{} GiB", bw.buffer_bytes >> 30)
                                                                 : fmt::format("{} MiB", bw.buffer_bytes >> 20);
  return fmt::format("{:.2f} GB/s ({} thread{} reading a {} buffer, best of {}; load average {:.1f})",
                     bw.bytes_per_second / 1e9, bw.threads, bw.threads == 1 ? "" : "s", buffer, bw.passes,
                     bw.load_average);
}

nlohmann::ordered_json bandwidth_json(const MachineBandwidth& bw) {
  nlohmann::ordered_json j;
  j["read_bandwidth_gbs"] = bw.bytes_per_second / 1e9;
  j["threads"] = bw.threads;
  j["buffer_bytes"] = bw.buffer_bytes;
  j["passes"] = bw.passes;
  j["load_average"] = bw.load_average;
  return j;
}

}  // namespace r1::bench
