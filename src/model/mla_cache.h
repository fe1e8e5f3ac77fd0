// MlaCache: the compressed KV cache of multi-head latent attention (DeepSeek-V2/V3/R1). Per layer, sequence
// slot and position it keeps one row of [kv_lora_rank + n_rot] values: the normalized latent c_kv followed by
// the rotated shared key part k_pe, in F32, F16 or Q8_0. Keys and values of every head are derived from that
// row by the layer's k_b / v_b matrices, so nothing per head is stored (576 values per token and layer for
// DeepSeek-R1, against 128 × (192 + 128) for plain attention). Values are the first kv_lora_rank entries of
// the same row. Memory is reserved up front and touched lazily, as in KvCache.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "type_table.h"

namespace r1 {

class MlaCache {
 public:
  struct Shape {
    int n_layer = 0;
    int n_seq = 1;
    int n_ctx = 0;
    int64_t kv_lora_rank = 0;  // latent values per position
    int64_t n_rot = 0;         // rotated key values per position (shared by all heads)
    GgmlType type = GgmlType::kF16;
  };

  // Throws r1::Error for an unsupported type (F32, F16, Q8_0) or a row length the type's blocks cannot hold.
  explicit MlaCache(const Shape& shape);

  const Shape& shape() const { return shape_; }
  int64_t row_values() const { return shape_.kv_lora_rank + shape_.n_rot; }
  uint64_t row_bytes() const { return row_bytes_; }
  uint64_t bytes_per_token() const { return row_bytes_ * static_cast<uint64_t>(shape_.n_layer); }

  uint8_t* row(int layer, int seq, int pos);
  // Stores one position: latent[kv_lora_rank] then k_pe[n_rot], converted to the cache type.
  void store(int layer, int seq, int pos, const float* latent, const float* k_pe);

  int32_t length(int seq) const { return lengths_[static_cast<size_t>(seq)]; }
  void set_length(int seq, int32_t n) { lengths_[static_cast<size_t>(seq)] = n; }

 private:
  Shape shape_;
  uint64_t row_bytes_ = 0;
  struct Free {
    void operator()(void* p) const;
  };
  std::unique_ptr<uint8_t, Free> data_;
  std::vector<int32_t> lengths_;
  std::vector<float> staging_;  // [row_values] one row before conversion
};

}  // namespace r1
