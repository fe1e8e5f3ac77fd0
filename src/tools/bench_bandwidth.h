// The machine's memory read bandwidth, measured one fixed way for `r1 bench --bandwidth` and for the
// "% of bandwidth" column of `r1 bench`: every hardware thread reads its share of a 2 GiB buffer (larger than
// any cache), best of 5 passes after a first-touch fill. The timing loop itself is plan's
// measure_read_bandwidth (hardware_catalog.h), so `r1 plan` and `r1 bench` report the same kind of figure.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace r1::bench {

inline constexpr uint64_t kBandwidthBufferBytes = 2ull << 30;
inline constexpr int kBandwidthPasses = 5;

struct MachineBandwidth {
  double bytes_per_second = 0;
  int threads = 0;             // every hardware thread
  uint64_t buffer_bytes = 0;
  int passes = kBandwidthPasses;
  double load_average = 0;     // 1-minute load average when measured (a busy machine reads low)
};

// buffer_bytes other than the default is for tests only: the fixed method is the default.
MachineBandwidth measure_machine_bandwidth(uint64_t buffer_bytes = kBandwidthBufferBytes);

// "10.52 GB/s (2 threads reading a 2 GiB buffer, best of 5; load average 0.3)".
std::string bandwidth_text(const MachineBandwidth& bw);
nlohmann::ordered_json bandwidth_json(const MachineBandwidth& bw);

}  // namespace r1::bench
