// The codec table (one row per type r1 can decode or encode) and the entry points of quant_row.h: argument
// checks, plain float types, row loops and the thread-pool split. The format math lives in quant_*.cpp.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include "check.h"
#include "error.h"
#include "half.h"
#include "quant_blocks.h"
#include "quant_row.h"
#include "quant_util.h"
#include "thread_pool.h"

namespace r1 {
namespace {

using DequantizeFn = void (*)(const void* src, float* dst, int64_t n_blocks);
using QuantizeFn = void (*)(const float* src, void* dst, int64_t n, const float* importance);

struct Codec {
  GgmlType type;
  DequantizeFn dequantize;
  QuantizeFn quantize;  // null: r1 does not write this type
  bool wants_importance;
};

// ---- the plain float types: one element per "block"

void dequantize_f32(const void* src, float* dst, int64_t n) { std::memcpy(dst, src, n * sizeof(float)); }
void quantize_f32(const float* src, void* dst, int64_t n, const float*) { std::memcpy(dst, src, n * sizeof(float)); }

void dequantize_f16(const void* src, float* dst, int64_t n) {
  const auto* p = static_cast<const uint8_t*>(src);
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, p + 2 * i, 2);
    dst[i] = fp16_to_fp32(h);
  }
}
void quantize_f16(const float* src, void* dst, int64_t n, const float*) {
  auto* p = static_cast<uint8_t*>(dst);
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = fp32_to_fp16(src[i]);
    std::memcpy(p + 2 * i, &h, 2);
  }
}
void dequantize_bf16(const void* src, float* dst, int64_t n) {
  const auto* p = static_cast<const uint8_t*>(src);
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, p + 2 * i, 2);
    dst[i] = bf16_to_fp32(h);
  }
}
void quantize_bf16(const float* src, void* dst, int64_t n, const float*) {
  auto* p = static_cast<uint8_t*>(dst);
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = fp32_to_bf16(src[i]);
    std::memcpy(p + 2 * i, &h, 2);
  }
}

using T = GgmlType;
constexpr std::array kCodecs = {
    Codec{T::kF32, dequantize_f32, quantize_f32, false},
    Codec{T::kF16, dequantize_f16, quantize_f16, false},
    Codec{T::kBF16, dequantize_bf16, quantize_bf16, false},
    Codec{T::kQ4_0, dequantize_q4_0, quantize_q4_0, false},
    Codec{T::kQ4_1, dequantize_q4_1, quantize_q4_1, false},
    Codec{T::kQ5_0, dequantize_q5_0, quantize_q5_0, false},
    Codec{T::kQ5_1, dequantize_q5_1, quantize_q5_1, false},
    Codec{T::kQ8_0, dequantize_q8_0, quantize_q8_0, false},
    Codec{T::kQ2_K, dequantize_q2_k, quantize_q2_k, false},
    Codec{T::kQ3_K, dequantize_q3_k, quantize_q3_k, false},
    Codec{T::kQ4_K, dequantize_q4_k, quantize_q4_k, false},
    Codec{T::kQ5_K, dequantize_q5_k, quantize_q5_k, false},
    Codec{T::kQ6_K, dequantize_q6_k, quantize_q6_k, false},
    Codec{T::kQ8_K, dequantize_q8_k, nullptr, false},  // activation-only: quantize_row_q8_k_activations
    Codec{T::kIQ2_XXS, dequantize_iq2_xxs, quantize_iq2_xxs, true},
    Codec{T::kIQ2_XS, dequantize_iq2_xs, quantize_iq2_xs, true},
    Codec{T::kIQ2_S, dequantize_iq2_s, quantize_iq2_s, false},
    Codec{T::kIQ3_XXS, dequantize_iq3_xxs, quantize_iq3_xxs, false},
    Codec{T::kIQ3_S, dequantize_iq3_s, quantize_iq3_s, false},
    Codec{T::kIQ1_S, dequantize_iq1_s, quantize_iq1_s, true},
    Codec{T::kIQ1_M, dequantize_iq1_m, quantize_iq1_m, false},
    Codec{T::kIQ4_NL, dequantize_iq4_nl, quantize_iq4_nl, false},
    Codec{T::kIQ4_XS, dequantize_iq4_xs, quantize_iq4_xs, false},
    Codec{T::kTQ1_0, dequantize_tq1_0, quantize_tq1_0, false},
    Codec{T::kTQ2_0, dequantize_tq2_0, quantize_tq2_0, false},
    Codec{T::kMXFP4, dequantize_mxfp4, quantize_mxfp4, false},
    Codec{T::kNVFP4, dequantize_nvfp4, quantize_nvfp4, false},
    Codec{T::kQ1_0, dequantize_q1_0, quantize_q1_0, false},
    Codec{T::kQ2_0, dequantize_q2_0, quantize_q2_0, false},
};

const Codec* find_codec(GgmlType type) {
  for (const Codec& c : kCodecs) {
    if (c.type == type) return &c;
  }
  return nullptr;
}

void check_row_length(const TypeInfo& info, int64_t n, const char* what) {
  if (n < 0 || n % info.block_size != 0) {
    throw_error("cannot {} {} elements of {}: the count must be a multiple of its block size {}", what, n, info.name,
                info.block_size);
  }
}

const Codec& quantize_codec(GgmlType type, int64_t n) {
  const TypeInfo& info = type_info(type);
  const Codec* codec = find_codec(type);
  if (!codec || !codec->quantize) {
    if (type == GgmlType::kQ8_K) throw_error("Q8_K is an activation format and cannot be written to a file");
    throw_error("r1 cannot quantize to {}", info.name);
  }
  check_row_length(info, n, "quantize");
  return *codec;
}

}  // namespace

bool can_dequantize(GgmlType type) { return find_codec(type) != nullptr; }

bool can_quantize(GgmlType type) {
  const Codec* c = find_codec(type);
  return c && c->quantize;
}

bool quantize_wants_importance(GgmlType type) {
  const Codec* c = find_codec(type);
  return c && c->wants_importance;
}

void dequantize_row(GgmlType type, const void* src, float* dst, int64_t n) {
  const TypeInfo& info = type_info(type);
  const Codec* codec = find_codec(type);
  if (!codec) throw_error("r1 cannot decode tensors of type {}", info.name);
  check_row_length(info, n, "dequantize");
  codec->dequantize(src, dst, n / info.block_size);
}

size_t quantize_row(GgmlType type, const float* src, void* dst, int64_t n, const float* importance) {
  const Codec& codec = quantize_codec(type, n);
  codec.quantize(src, dst, n, importance);
  return *row_bytes(type_info(type), static_cast<uint64_t>(n));
}

size_t quantize_rows(GgmlType type, const float* src, void* dst, const QuantizeRowsOptions& options) {
  const Codec& codec = quantize_codec(type, options.n_per_row);
  if (options.n_rows < 0) throw_error("cannot quantize a negative number of rows ({})", options.n_rows);
  const size_t row_size = *row_bytes(type_info(type), static_cast<uint64_t>(options.n_per_row));
  const int64_t n_per_row = options.n_per_row;
  auto run = [&](size_t begin, size_t end, int) {
    for (size_t r = begin; r < end; ++r) {
      codec.quantize(src + r * n_per_row, static_cast<uint8_t*>(dst) + r * row_size, n_per_row, options.importance);
    }
  };
  if (options.pool && options.n_rows > 1) {
    options.pool->parallel_range(static_cast<size_t>(options.n_rows), 1, run);
  } else {
    run(0, static_cast<size_t>(options.n_rows), 0);
  }
  return row_size * static_cast<size_t>(options.n_rows);
}

void quantize_row_q8_0_activations(const float* x, void* dst, int64_t n) {
  R1_CHECK(n % 32 == 0);
  for (int64_t i = 0; i < n / 32; ++i, x += 32) {
    BlockQ8_0 b;
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
    b.d = fp32_to_fp16(amax / 127.f);
    const float id = amax != 0.0f ? 127.f / amax : 0.0f;
    // std::nearbyint rounds half to even in the default rounding mode, as _mm256_round_ps(_MM_ROUND_NEAREST).
    for (int j = 0; j < 32; ++j) b.qs[j] = static_cast<int8_t>(std::nearbyint(x[j] * id));
    store_block(dst, i, b);
  }
}

void quantize_row_q8_1_activations(const float* x, void* dst, int64_t n) {
  R1_CHECK(n % 32 == 0);
  for (int64_t i = 0; i < n / 32; ++i, x += 32) {
    BlockQ8_1 b;
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.f;
    const float id = amax != 0.0f ? 127.f / amax : 0.0f;
    int sum = 0;
    for (int j = 0; j < 32; ++j) {
      b.qs[j] = static_cast<int8_t>(std::nearbyint(x[j] * id));
      sum += b.qs[j];
    }
    b.d = fp32_to_fp16(d);
    b.s = fp32_to_fp16(d * static_cast<float>(sum));  // the unrounded d, as llama.cpp's AVX2 path
    store_block(dst, i, b);
  }
}

void quantize_row_q8_k_activations(const float* x, void* dst, int64_t n) {
  R1_CHECK(n % kQK_K == 0);
  quantize_q8_k(x, dst, n, nullptr);
}

}  // namespace r1
