// KvCache storage and type conversion.
#include "kv_cache.h"

#include <cstdlib>
#include <cstring>

#include "error.h"
#include "half.h"
#include "quant_row.h"

namespace r1 {

GgmlType kv_cache_type_from_name(std::string_view name) {
  if (name == "f32") return GgmlType::kF32;
  if (name == "f16") return GgmlType::kF16;
  if (name == "q8_0") return GgmlType::kQ8_0;
  throw Error(fmt::format("unknown KV cache type '{}' (use f32, f16 or q8_0)", name));
}

void KvCache::Free::operator()(void* p) const { std::free(p); }

KvCache::KvCache(const Shape& shape) : shape_(shape), lengths_(static_cast<size_t>(shape.n_seq), 0) {
  for (GgmlType t : {shape.k_type, shape.v_type}) {
    if (t != GgmlType::kF32 && t != GgmlType::kF16 && t != GgmlType::kQ8_0) {
      throw Error(fmt::format("KV cache type {} is not supported (use f32, f16 or q8_0)", type_info(t).name));
    }
  }
  const auto k_bytes = row_bytes(type_info(shape.k_type), static_cast<uint64_t>(shape.k_dim));
  const auto v_bytes = row_bytes(type_info(shape.v_type), static_cast<uint64_t>(shape.v_dim));
  if (!k_bytes || !v_bytes) {
    throw Error(fmt::format("KV cache rows of {} / {} values do not fit the block size of {} / {}", shape.k_dim,
                            shape.v_dim, type_info(shape.k_type).name, type_info(shape.v_type).name));
  }
  k_row_bytes_ = *k_bytes;
  v_row_bytes_ = *v_bytes;
  const uint64_t positions = static_cast<uint64_t>(shape.n_layer) * shape.n_seq * shape.n_ctx;
  k_.reset(static_cast<uint8_t*>(std::calloc(positions, k_row_bytes_)));
  v_.reset(static_cast<uint8_t*>(std::calloc(positions, v_row_bytes_)));
  if (!k_ || !v_) {
    throw Error(fmt::format("cannot reserve {:.1f} MiB for the KV cache ({} positions); lower the context size",
                            positions * (k_row_bytes_ + v_row_bytes_) / 1048576.0, shape.n_ctx));
  }
}

uint8_t* KvCache::k_row(int layer, int seq, int pos) {
  const uint64_t index = (static_cast<uint64_t>(layer) * shape_.n_seq + seq) * shape_.n_ctx + pos;
  return k_.get() + index * k_row_bytes_;
}

uint8_t* KvCache::v_row(int layer, int seq, int pos) {
  const uint64_t index = (static_cast<uint64_t>(layer) * shape_.n_seq + seq) * shape_.n_ctx + pos;
  return v_.get() + index * v_row_bytes_;
}

void KvCache::store(GgmlType type, const float* values, int64_t n, uint8_t* dst) {
  switch (type) {
    case GgmlType::kF32: std::memcpy(dst, values, static_cast<size_t>(n) * sizeof(float)); break;
    case GgmlType::kF16: {
      auto* out = reinterpret_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) out[i] = fp32_to_fp16(values[i]);
      break;
    }
    default:
      // Q8_0 rows are written by llama.cpp's copy op with its reference quantizer (round half away from zero).
      quantize_row(GgmlType::kQ8_0, values, dst, n, nullptr);
      break;
  }
}

void KvCache::store_k(int layer, int seq, int pos, const float* values) {
  store(shape_.k_type, values, shape_.k_dim, k_row(layer, seq, pos));
}

void KvCache::store_v(int layer, int seq, int pos, const float* values) {
  store(shape_.v_type, values, shape_.v_dim, v_row(layer, seq, pos));
}

}  // namespace r1
