// KvCache: keys and values of every layer for each sequence slot, stored in F32, F16 or Q8_0 rows of
// [n_head_kv * head_dim] per position. The memory is reserved up front but only touched as positions are
// written (calloc of a large block maps zero pages lazily), so a long context costs nothing until used.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "type_table.h"

namespace r1 {

// The cache type a flag names (-ctk/-ctv: f32, f16, q8_0); throws r1::Error for any other name.
GgmlType kv_cache_type_from_name(std::string_view name);

class KvCache {
 public:
  struct Shape {
    int n_layer = 0;
    int n_seq = 1;
    int n_ctx = 0;
    int64_t k_dim = 0;  // values per position and layer (n_head_kv * head_dim_k)
    int64_t v_dim = 0;
    GgmlType k_type = GgmlType::kF16;
    GgmlType v_type = GgmlType::kF16;
  };

  // Throws r1::Error when a type cannot hold the row length (Q8_0 needs multiples of 32) or is unsupported.
  explicit KvCache(const Shape& shape);

  const Shape& shape() const { return shape_; }
  uint64_t k_row_bytes() const { return k_row_bytes_; }
  uint64_t v_row_bytes() const { return v_row_bytes_; }
  uint64_t bytes_per_token() const { return (k_row_bytes_ + v_row_bytes_) * static_cast<uint64_t>(shape_.n_layer); }

  uint8_t* k_row(int layer, int seq, int pos);
  uint8_t* v_row(int layer, int seq, int pos);
  // Stores one position's K (or V) values, converting to the cache type.
  void store_k(int layer, int seq, int pos, const float* values);
  void store_v(int layer, int seq, int pos, const float* values);

  int32_t length(int seq) const { return lengths_[static_cast<size_t>(seq)]; }
  void set_length(int seq, int32_t n) { lengths_[static_cast<size_t>(seq)] = n; }

 private:
  void store(GgmlType type, const float* values, int64_t n, uint8_t* dst);

  Shape shape_;
  uint64_t k_row_bytes_ = 0;
  uint64_t v_row_bytes_ = 0;
  struct Free {
    void operator()(void* p) const;
  };
  std::unique_ptr<uint8_t, Free> k_;
  std::unique_ptr<uint8_t, Free> v_;
  std::vector<int32_t> lengths_;
};

}  // namespace r1
