// MlaCache storage and type conversion.
#include "mla_cache.h"

#include <cstdlib>
#include <cstring>

#include "error.h"
#include "half.h"
#include "quant_row.h"

namespace r1 {

void MlaCache::Free::operator()(void* p) const { std::free(p); }

MlaCache::MlaCache(const Shape& shape)
    : shape_(shape), lengths_(static_cast<size_t>(shape.n_seq), 0), staging_(static_cast<size_t>(shape.kv_lora_rank + shape.n_rot)) {
  if (shape.type != GgmlType::kF32 && shape.type != GgmlType::kF16 && shape.type != GgmlType::kQ8_0) {
    throw Error(fmt::format("MLA cache type {} is not supported (use f32, f16 or q8_0)", type_info(shape.type).name));
  }
  const auto bytes = r1::row_bytes(type_info(shape.type), static_cast<uint64_t>(row_values()));
  if (!bytes || shape.kv_lora_rank <= 0 || shape.n_rot < 0) {
    throw Error(fmt::format("MLA cache rows of {} values do not fit the block size of {}", row_values(),
                            type_info(shape.type).name));
  }
  row_bytes_ = *bytes;
  const uint64_t positions = static_cast<uint64_t>(shape.n_layer) * shape.n_seq * shape.n_ctx;
  data_.reset(static_cast<uint8_t*>(std::calloc(positions, row_bytes_)));
  if (!data_) {
    throw Error(fmt::format("cannot reserve {:.1f} MiB for the MLA cache ({} positions); lower the context size",
                            positions * row_bytes_ / 1048576.0, shape.n_ctx));
  }
}

uint8_t* MlaCache::row(int layer, int seq, int pos) {
  const uint64_t index = (static_cast<uint64_t>(layer) * shape_.n_seq + seq) * shape_.n_ctx + pos;
  return data_.get() + index * row_bytes_;
}

void MlaCache::store(int layer, int seq, int pos, const float* latent, const float* k_pe) {
  const int64_t n = row_values();
  std::memcpy(staging_.data(), latent, static_cast<size_t>(shape_.kv_lora_rank) * sizeof(float));
  std::memcpy(staging_.data() + shape_.kv_lora_rank, k_pe, static_cast<size_t>(shape_.n_rot) * sizeof(float));
  uint8_t* dst = row(layer, seq, pos);
  switch (shape_.type) {
    case GgmlType::kF32: std::memcpy(dst, staging_.data(), static_cast<size_t>(n) * sizeof(float)); break;
    case GgmlType::kF16: {
      auto* out = reinterpret_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) out[i] = fp32_to_fp16(staging_[static_cast<size_t>(i)]);
      break;
    }
    default:
      // As llama.cpp's copy into a Q8_0 cache: the reference quantizer (round half away from zero).
      quantize_row(GgmlType::kQ8_0, staging_.data(), dst, n, nullptr);
      break;
  }
}

}  // namespace r1
