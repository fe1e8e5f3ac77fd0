// The legacy 32-element formats Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 (and the small Q1_0/Q2_0): decode, and encode
// as ggml does (plain max-based rounding without importance weights, a weighted scale search with them).
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "quant_blocks.h"
#include "quant_util.h"

namespace r1 {
namespace {

constexpr int kQK = 32;

// Mean square of the whole row: the importance paths weight each error by qw * sqrt(sigma2 + x²).
float row_sigma2(const float* x, int64_t n) {
  float sum_x2 = 0;
  for (int64_t j = 0; j < n; ++j) sum_x2 += x[j] * x[j];
  return sum_x2 / n;
}

void importance_weights(const float* x, const float* qw, float sigma2, float* w) {
  for (int j = 0; j < kQK; ++j) w[j] = qw[j] * std::sqrt(sigma2 + x[j] * x[j]);
}

// Packs 32 five-bit codes: low nibbles in qs (element j with j+16), fifth bits in qh (bit j).
template <typename Block>
void pack5(const uint8_t* L, Block& b) {
  uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) {
    b.qs[j] = static_cast<uint8_t>((L[j] & 0x0F) | ((L[j + 16] & 0x0F) << 4));
    qh |= ((L[j] & 0x10u) >> 4) << j;
    qh |= ((L[j + 16] & 0x10u) >> 4) << (j + 16);
  }
  std::memcpy(b.qh, &qh, 4);
}

// The element with the largest magnitude (its sign matters: the scale maps it to the extreme code).
float signed_absmax(const float* x, int n) {
  float amax = 0, max = 0;
  for (int j = 0; j < n; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

}  // namespace

// ---- Q4_0: x = d * (q - 8), q in [0, 15]

void dequantize_q4_0(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const auto b = load_block<BlockQ4_0>(src, i);
    const float d = f16(b.d);
    for (int j = 0; j < 16; ++j) {
      y[j] = ((b.qs[j] & 0x0F) - 8) * d;
      y[j + 16] = ((b.qs[j] >> 4) - 8) * d;
    }
  }
}

void quantize_q4_0(const float* x, void* dst, int64_t n, const float* qw) {
  const int64_t nb = n / kQK;
  const float sigma2 = qw ? row_sigma2(x, n) : 0.f;
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    BlockQ4_0 b;
    if (qw) {
      float w[kQK];
      int8_t L[kQK];
      importance_weights(x, qw + i * kQK, sigma2, w);
      b.d = to_f16(make_qx_quants(kQK, 8, x, L, 1, w));
      for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(L[j] | (L[j + 16] << 4));
    } else {
      // The extreme value maps to code 0 (-8), which has one more step than the positive side.
      const float d = signed_absmax(x, kQK) / -8;
      const float id = d ? 1.0f / d : 0.0f;
      b.d = to_f16(d);
      for (int j = 0; j < 16; ++j) {
        // Truncation after +8.5 is ggml's rounding here (it differs from nearest_int at exact halves).
        const uint8_t q0 = std::min<uint8_t>(15, static_cast<int8_t>(x[j] * id + 8.5f));
        const uint8_t q1 = std::min<uint8_t>(15, static_cast<int8_t>(x[j + 16] * id + 8.5f));
        b.qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
      }
    }
    store_block(dst, i, b);
  }
}

// ---- Q4_1: x = d * q + m, q in [0, 15]

void dequantize_q4_1(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const auto b = load_block<BlockQ4_1>(src, i);
    const float d = f16(b.d), m = f16(b.m);
    for (int j = 0; j < 16; ++j) {
      y[j] = (b.qs[j] & 0x0F) * d + m;
      y[j + 16] = (b.qs[j] >> 4) * d + m;
    }
  }
}

void quantize_q4_1(const float* x, void* dst, int64_t n, const float* qw) {
  const int64_t nb = n / kQK;
  const float sigma2 = qw ? row_sigma2(x, n) : 0.f;
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    BlockQ4_1 b;
    if (qw) {
      float w[kQK];
      uint8_t L[kQK], L_aux[kQK];
      importance_weights(x, qw + i * kQK, sigma2, w);
      float neg_min;
      const float d = make_qkx3_quants(kQK, 15, x, w, L, &neg_min, L_aux, -0.9f, 0.05f, 36, false);
      b.d = to_f16(d);
      b.m = to_f16(-neg_min);
      for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(L[j] | (L[j + 16] << 4));
    } else {
      float min = FLT_MAX, max = -FLT_MAX;
      for (int j = 0; j < kQK; ++j) {
        min = std::min(min, x[j]);
        max = std::max(max, x[j]);
      }
      const float d = (max - min) / 15;
      const float id = d ? 1.0f / d : 0.0f;
      b.d = to_f16(d);
      b.m = to_f16(min);
      for (int j = 0; j < 16; ++j) {
        const uint8_t q0 = std::min<uint8_t>(15, static_cast<int8_t>((x[j] - min) * id + 0.5f));
        const uint8_t q1 = std::min<uint8_t>(15, static_cast<int8_t>((x[j + 16] - min) * id + 0.5f));
        b.qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
      }
    }
    store_block(dst, i, b);
  }
}

// ---- Q5_0: x = d * (q - 16), q in [0, 31]

void dequantize_q5_0(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const auto b = load_block<BlockQ5_0>(src, i);
    const float d = f16(b.d);
    uint32_t qh;
    std::memcpy(&qh, b.qh, 4);
    for (int j = 0; j < 16; ++j) {
      const int h0 = ((qh >> j) << 4) & 0x10;
      const int h1 = (qh >> (j + 12)) & 0x10;
      y[j] = (((b.qs[j] & 0x0F) | h0) - 16) * d;
      y[j + 16] = (((b.qs[j] >> 4) | h1) - 16) * d;
    }
  }
}

void quantize_q5_0(const float* x, void* dst, int64_t n, const float* qw) {
  const int64_t nb = n / kQK;
  const float sigma2 = qw ? row_sigma2(x, n) : 0.f;
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    BlockQ5_0 b;
    uint8_t L[kQK];
    if (qw) {
      float w[kQK];
      int8_t Ls[kQK];
      importance_weights(x, qw + i * kQK, sigma2, w);
      b.d = to_f16(make_qx_quants(kQK, 16, x, Ls, 1, w));
      for (int j = 0; j < kQK; ++j) L[j] = static_cast<uint8_t>(Ls[j]);
    } else {
      const float d = signed_absmax(x, kQK) / -16;
      const float id = d ? 1.0f / d : 0.0f;
      b.d = to_f16(d);
      for (int j = 0; j < kQK; ++j) L[j] = std::min<uint8_t>(31, static_cast<int8_t>(x[j] * id + 16.5f));
    }
    pack5(L, b);
    store_block(dst, i, b);
  }
}

// ---- Q5_1: x = d * q + m, q in [0, 31]

void dequantize_q5_1(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const auto b = load_block<BlockQ5_1>(src, i);
    const float d = f16(b.d), m = f16(b.m);
    uint32_t qh;
    std::memcpy(&qh, b.qh, 4);
    for (int j = 0; j < 16; ++j) {
      const int h0 = ((qh >> j) << 4) & 0x10;
      const int h1 = (qh >> (j + 12)) & 0x10;
      y[j] = ((b.qs[j] & 0x0F) | h0) * d + m;
      y[j + 16] = ((b.qs[j] >> 4) | h1) * d + m;
    }
  }
}

void quantize_q5_1(const float* x, void* dst, int64_t n, const float* qw) {
  const int64_t nb = n / kQK;
  const float sigma2 = qw ? row_sigma2(x, n) : 0.f;
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    BlockQ5_1 b;
    uint8_t L[kQK];
    if (qw) {
      float w[kQK];
      uint8_t L_aux[kQK];
      importance_weights(x, qw + i * kQK, sigma2, w);
      float neg_min;
      const float d = make_qkx3_quants(kQK, 31, x, w, L, &neg_min, L_aux, -0.9f, 0.05f, 36, false);
      b.d = to_f16(d);
      b.m = to_f16(-neg_min);
    } else {
      float min = FLT_MAX, max = -FLT_MAX;
      for (int j = 0; j < kQK; ++j) {
        min = std::min(min, x[j]);
        max = std::max(max, x[j]);
      }
      const float d = (max - min) / 31;
      const float id = d ? 1.0f / d : 0.0f;
      b.d = to_f16(d);
      b.m = to_f16(min);
      for (int j = 0; j < kQK; ++j) L[j] = static_cast<uint8_t>((x[j] - min) * id + 0.5f);
    }
    pack5(L, b);
    store_block(dst, i, b);
  }
}

// ---- Q8_0: x = d * q, q in [-127, 127]

void dequantize_q8_0(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const auto b = load_block<BlockQ8_0>(src, i);
    const float d = f16(b.d);
    for (int j = 0; j < kQK; ++j) y[j] = b.qs[j] * d;
  }
}

// ggml's quantize_row_q8_0_ref: d = amax/127, codes roundf(x/d) (ties away from zero). Importance is unused.
void quantize_q8_0(const float* x, void* dst, int64_t n, const float*) {
  const int64_t nb = n / kQK;
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    BlockQ8_0 b;
    float amax = 0;
    for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127;
    const float id = d ? 1.0f / d : 0.0f;
    b.d = to_f16(d);
    for (int j = 0; j < kQK; ++j) b.qs[j] = static_cast<int8_t>(std::roundf(x[j] * id));
    store_block(dst, i, b);
  }
}

// ---- Q1_0 (128 elements, x = ±d) and Q2_0 (64 elements, x = d * (q - 1), q in [0, 3])

void dequantize_q1_0(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += 128) {
    const auto b = load_block<BlockQ1_0>(src, i);
    const float d = f16(b.d);
    for (int j = 0; j < 128; ++j) y[j] = (b.qs[j / 8] >> (j % 8)) & 1 ? d : -d;
  }
}

void quantize_q1_0(const float* x, void* dst, int64_t n, const float*) {
  const int64_t nb = n / 128;
  for (int64_t i = 0; i < nb; ++i, x += 128) {
    BlockQ1_0 b{};
    float sum_abs = 0;
    for (int j = 0; j < 128; ++j) sum_abs += std::fabs(x[j]);
    b.d = to_f16(sum_abs / 128);
    for (int j = 0; j < 128; ++j) {
      if (x[j] >= 0.0f) b.qs[j / 8] = static_cast<uint8_t>(b.qs[j / 8] | (1 << (j % 8)));
    }
    store_block(dst, i, b);
  }
}

void dequantize_q2_0(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += 64) {
    const auto b = load_block<BlockQ2_0>(src, i);
    const float d = f16(b.d);
    for (int j = 0; j < 64; ++j) y[j] = (((b.qs[j / 4] >> (2 * (j % 4))) & 3) - 1) * d;
  }
}

void quantize_q2_0(const float* x, void* dst, int64_t n, const float*) {
  const int64_t nb = n / 64;
  for (int64_t i = 0; i < nb; ++i, x += 64) {
    BlockQ2_0 b{};
    float amax = 0;
    for (int j = 0; j < 64; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float id = amax > 0.0f ? 1.0f / amax : 0.0f;
    b.d = to_f16(amax);
    for (int j = 0; j < 64; ++j) {
      const int q = std::clamp(static_cast<int>(std::roundf(x[j] * id)) + 1, 0, 3);
      b.qs[j / 4] = static_cast<uint8_t>(b.qs[j / 4] | (q << (2 * (j % 4))));
    }
    store_block(dst, i, b);
  }
}

}  // namespace r1
