// Random rows stored as a model stores them: KV caches and weights for kernel tests.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "quant_row.h"
#include "type_table.h"

namespace r1::testlib {

// n_rows rows of n_per_row values drawn from N(0, sigma^2), each quantized to type t on its own, back to back
// (the row size is row_bytes of n_per_row values). Draws the values in row order.
inline std::vector<uint8_t> random_rows(GgmlType t, int64_t n_rows, int64_t n_per_row, float sigma,
                                        std::mt19937& rng) {
  std::normal_distribution<float> normal;
  const uint64_t row = *row_bytes(type_info(t), static_cast<uint64_t>(n_per_row));
  std::vector<uint8_t> out(row * static_cast<uint64_t>(n_rows));
  std::vector<float> x(static_cast<size_t>(n_per_row));
  for (int64_t j = 0; j < n_rows; ++j) {
    for (auto& e : x) e = sigma * normal(rng);
    quantize_rows(t, x.data(), out.data() + static_cast<uint64_t>(j) * row,
                  QuantizeRowsOptions{.n_rows = 1, .n_per_row = n_per_row});
  }
  return out;
}

}  // namespace r1::testlib
