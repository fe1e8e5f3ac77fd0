// The K-quants Q2_K, Q3_K, Q4_K, Q5_K, Q6_K (256-element super-blocks with quantized sub-block scales) and the
// activation format Q8_K: decode, and encode as ggml does (its _ref search without importance weights, its
// weighted search with them).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "quant_blocks.h"
#include "quant_row.h"
#include "quant_util.h"

namespace r1 {
namespace {

// Q4_K/Q5_K pack eight 6-bit scales and eight 6-bit mins into 12 bytes.
void get_scale_min_k4(int j, const uint8_t* q, uint8_t* d, uint8_t* m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4));
  }
}

void set_scale_min_k4(int j, uint8_t ls, uint8_t lm, uint8_t* q) {
  if (j < 4) {
    q[j] = ls;
    q[j + 4] = lm;
  } else {
    q[j + 4] = static_cast<uint8_t>((ls & 0xF) | ((lm & 0xF) << 4));
    q[j - 4] = static_cast<uint8_t>(q[j - 4] | ((ls >> 4) << 6));
    q[j - 0] = static_cast<uint8_t>(q[j - 0] | ((lm >> 4) << 6));
  }
}

// Q3_K: sixteen 6-bit scales (biased by 32): low nibbles in bytes 0..7, top two bits in bytes 8..11.
int q3k_scale(const uint8_t* s, int j) {
  const int lo = j < 8 ? s[j] & 0xF : s[j - 8] >> 4;
  return (lo | (((s[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
}

void q3k_set_scale(uint8_t* s, int j, int l /* 0..63 */) {
  if (j < 8) s[j] = static_cast<uint8_t>(l & 0xF);
  else s[j - 8] = static_cast<uint8_t>(s[j - 8] | ((l & 0xF) << 4));
  s[j % 4 + 8] = static_cast<uint8_t>(s[j % 4 + 8] | ((l >> 4) << (2 * (j / 4))));
}

// 2-bit codes of 256 elements: byte l of each 32-byte group holds elements l, l+32, l+64, l+96.
void pack2_k(const uint8_t* L, uint8_t* qs) {
  for (int j = 0; j < kQK_K; j += 128) {
    for (int l = 0; l < 32; ++l) {
      qs[j / 4 + l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
    }
  }
}

float sum_squares(const float* x, int n) {
  float s = 0;
  for (int j = 0; j < n; ++j) s += x[j] * x[j];
  return s;
}

}  // namespace

// ---- Q2_K: x = d * sc * q - dmin * m, q in [0, 3], 4-bit sc and m per 16 elements

void dequantize_q2_k(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load_block<BlockQ2_K>(src, i);
    const float d = f16(b.d), min = f16(b.dmin);
    const uint8_t* q = b.qs;
    int is = 0;
    for (int n = 0; n < kQK_K; n += 128, q += 32) {
      for (int shift = 0; shift < 8; shift += 2) {
        for (int half = 0; half < 2; ++half) {
          const uint8_t sc = b.scales[is++];
          const float dl = d * (sc & 0xF), ml = min * (sc >> 4);
          for (int l = 0; l < 16; ++l) *y++ = dl * ((q[l + 16 * half] >> shift) & 3) - ml;
        }
      }
    }
  }
}

namespace {

void quantize_q2_k_plain(const float* x, BlockQ2_K& b) {
  uint8_t L[kQK_K], L_aux[16];
  float weights[16], mins[16], scales[16];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < 16; ++j) {
    for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * j + l]);
    scales[j] = make_qkx2_quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], L_aux, -0.5f, 0.1f, 15, true);
    max_scale = std::max(max_scale, scales[j]);
    max_min = std::max(max_min, mins[j]);
  }
  if (max_scale > 0) {
    const float iscale = 15.f / max_scale;
    for (int j = 0; j < 16; ++j) b.scales[j] = static_cast<uint8_t>(nearest_int(iscale * scales[j]));
    b.d = to_f16(max_scale / 15.f);
  } else {
    std::memset(b.scales, 0, 16);
    b.d = to_f16(0.f);
  }
  if (max_min > 0) {
    const float iscale = 15.f / max_min;
    for (int j = 0; j < 16; ++j) b.scales[j] = static_cast<uint8_t>(b.scales[j] | (nearest_int(iscale * mins[j]) << 4));
    b.dmin = to_f16(max_min / 15.f);
  } else {
    b.dmin = to_f16(0.f);
  }
  // Requantize against the scales as stored, so the codes fit what a decoder will compute.
  for (int j = 0; j < 16; ++j) {
    const float d = f16(b.d) * (b.scales[j] & 0xF);
    if (!d) continue;
    const float dm = f16(b.dmin) * (b.scales[j] >> 4);
    for (int ii = 0; ii < 16; ++ii) L[16 * j + ii] = static_cast<uint8_t>(std::clamp(nearest_int((x[16 * j + ii] + dm) / d), 0, 3));
  }
  pack2_k(L, b.qs);
}

void quantize_q2_k_weighted(const float* x, const float* qw, BlockQ2_K& b) {
  uint8_t L[kQK_K], L_aux[16], Ls[16], Lm[16];
  float mins[16], scales[16], sw[16] = {}, weight[16];
  const float sigma2 = sum_squares(x, kQK_K) / kQK_K;
  for (int j = 0; j < 16; ++j) {
    for (int l = 0; l < 16; ++l) weight[l] = qw[16 * j + l] * std::sqrt(sigma2 + x[16 * j + l] * x[16 * j + l]);
    for (int l = 0; l < 16; ++l) sw[j] += weight[l];
    scales[j] = make_qkx3_quants(16, 3, x + 16 * j, weight, L + 16 * j, &mins[j], L_aux, -0.9f, 0.05f, 36, false);
  }
  float dm = make_qp_quants(16, 15, scales, Ls, sw);
  float mm = make_qp_quants(16, 15, mins, Lm, sw);
  b.d = to_f16(dm);
  b.dmin = to_f16(mm);
  dm = f16(b.d);
  mm = f16(b.dmin);
  for (int j = 0; j < 16; ++j) b.scales[j] = static_cast<uint8_t>(Ls[j] | (Lm[j] << 4));
  for (int j = 0; j < 16; ++j) {
    const float d = dm * (b.scales[j] & 0xF);
    if (!d) continue;
    const float m = mm * (b.scales[j] >> 4);
    for (int ii = 0; ii < 16; ++ii) L[16 * j + ii] = static_cast<uint8_t>(std::clamp(nearest_int((x[16 * j + ii] + m) / d), 0, 3));
  }
  pack2_k(L, b.qs);
}

}  // namespace

void quantize_q2_k(const float* x, void* dst, int64_t n, const float* qw) {
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    BlockQ2_K b{};
    if (qw) quantize_q2_k_weighted(x, qw + i * kQK_K, b);
    else quantize_q2_k_plain(x, b);
    store_block(dst, i, b);
  }
}

// ---- Q3_K: x = d * (sc - 32) * (q - 4), q in [0, 7] (2 low bits + 1 high bit), 6-bit sc per 16 elements

void dequantize_q3_k(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load_block<BlockQ3_K>(src, i);
    const float d_all = f16(b.d);
    const uint8_t* q = b.qs;
    uint8_t m = 1;
    int is = 0;
    for (int n = 0; n < kQK_K; n += 128, q += 32) {
      for (int shift = 0; shift < 8; shift += 2, m = static_cast<uint8_t>(m << 1)) {
        for (int half = 0; half < 2; ++half) {
          const float dl = d_all * q3k_scale(b.scales, is++);
          for (int l = 0; l < 16; ++l) {
            const int k = l + 16 * half;
            *y++ = dl * (((q[k] >> shift) & 3) - ((b.hmask[k] & m) ? 0 : 4));
          }
        }
      }
    }
  }
}

namespace {

// Codes in [0, 7] (stored value + 4) to hmask (high bit: element j of each 32 at bit j/32) and qs.
void pack3_k(uint8_t* L, BlockQ3_K& b) {
  std::memset(b.hmask, 0, sizeof b.hmask);
  for (int j = 0; j < kQK_K; ++j) {
    if (L[j] > 3) {
      b.hmask[j % 32] = static_cast<uint8_t>(b.hmask[j % 32] | (1 << (j / 32)));
      L[j] = static_cast<uint8_t>(L[j] - 4);
    }
  }
  pack2_k(L, b.qs);
}

void requantize_q3_k(const float* x, uint8_t* L, const BlockQ3_K& b) {
  for (int j = 0; j < 16; ++j) {
    const float d = f16(b.d) * q3k_scale(b.scales, j);
    if (!d) continue;
    for (int ii = 0; ii < 16; ++ii) L[16 * j + ii] = static_cast<uint8_t>(std::clamp(nearest_int(x[16 * j + ii] / d), -4, 3) + 4);
  }
}

void quantize_q3_k_plain(const float* x, BlockQ3_K& b) {
  int8_t Ls[kQK_K];
  float scales[16];
  float max_scale = 0, amax = 0;
  for (int j = 0; j < 16; ++j) {
    scales[j] = make_q3_quants(16, 4, x + 16 * j, Ls + 16 * j, true);
    if (std::fabs(scales[j]) > amax) {
      amax = std::fabs(scales[j]);
      max_scale = scales[j];
    }
  }
  std::memset(b.scales, 0, 12);
  if (max_scale) {
    const float iscale = -32.f / max_scale;
    for (int j = 0; j < 16; ++j) {
      // ggml narrows the rounded scale to int8 before clamping; kept for identical codes.
      const int8_t l = static_cast<int8_t>(nearest_int(iscale * scales[j]));
      q3k_set_scale(b.scales, j, std::clamp<int>(l, -32, 31) + 32);
    }
    b.d = to_f16(1 / iscale);
  } else {
    b.d = to_f16(0.f);
  }
  uint8_t L[kQK_K];
  for (int j = 0; j < kQK_K; ++j) L[j] = static_cast<uint8_t>(Ls[j]);
  requantize_q3_k(x, L, b);
  pack3_k(L, b);
}

void quantize_q3_k_weighted(const float* x, const float* qw, BlockQ3_K& b) {
  int8_t Ls[kQK_K], Lsc[16];
  float scales[16], weight[16], sw[16];
  const float sigma2 = 2 * sum_squares(x, kQK_K) / kQK_K;
  for (int j = 0; j < 16; ++j) {
    for (int l = 0; l < 16; ++l) weight[l] = qw[16 * j + l] * std::sqrt(sigma2 + x[16 * j + l] * x[16 * j + l]);
    float sumw = 0;
    for (int l = 0; l < 16; ++l) sumw += weight[l];
    sw[j] = sumw;
    scales[j] = make_qx_quants(16, 4, x + 16 * j, Ls + 16 * j, 1, weight);
  }
  std::memset(b.scales, 0, 12);
  const float d_block = make_qx_quants(16, 32, scales, Lsc, 1, sw);
  for (int j = 0; j < 16; ++j) q3k_set_scale(b.scales, j, Lsc[j]);
  b.d = to_f16(d_block);
  uint8_t L[kQK_K];
  for (int j = 0; j < kQK_K; ++j) L[j] = static_cast<uint8_t>(Ls[j]);
  requantize_q3_k(x, L, b);
  pack3_k(L, b);
}

}  // namespace

void quantize_q3_k(const float* x, void* dst, int64_t n, const float* qw) {
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    BlockQ3_K b{};
    if (qw) quantize_q3_k_weighted(x, qw + i * kQK_K, b);
    else quantize_q3_k_plain(x, b);
    store_block(dst, i, b);
  }
}

// ---- Q4_K / Q5_K: x = d * sc * q - dmin * m, 6-bit sc and m per 32 elements; q in [0, 15] / [0, 31]

void unpack_q4_k_block(const void* block, Q4KCodes& out) {
  const auto b = load_block<BlockQ4_K>(block, 0);
  out.d = f16(b.d);
  out.dmin = f16(b.dmin);
  for (int j = 0; j < 8; ++j) {
    get_scale_min_k4(j, b.scales, &out.sc[j], &out.mn[j]);
    const int shift = 4 * (j % 2);
    for (int l = 0; l < 32; ++l) out.q[32 * j + l] = static_cast<uint8_t>((b.qs[32 * (j / 2) + l] >> shift) & 0xF);
  }
}

void dequantize_q4_k(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load_block<BlockQ4_K>(src, i);
    const float d = f16(b.d), min = f16(b.dmin);
    const uint8_t* q = b.qs;
    for (int j = 0, is = 0; j < kQK_K; j += 64, q += 32, is += 2) {
      uint8_t sc, m;
      get_scale_min_k4(is + 0, b.scales, &sc, &m);
      const float d1 = d * sc, m1 = min * m;
      get_scale_min_k4(is + 1, b.scales, &sc, &m);
      const float d2 = d * sc, m2 = min * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * (q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * (q[l] >> 4) - m2;
    }
  }
}

void dequantize_q5_k(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load_block<BlockQ5_K>(src, i);
    const float d = f16(b.d), min = f16(b.dmin);
    const uint8_t* ql = b.qs;
    uint8_t u1 = 1, u2 = 2;
    for (int j = 0, is = 0; j < kQK_K; j += 64, ql += 32, is += 2) {
      uint8_t sc, m;
      get_scale_min_k4(is + 0, b.scales, &sc, &m);
      const float d1 = d * sc, m1 = min * m;
      get_scale_min_k4(is + 1, b.scales, &sc, &m);
      const float d2 = d * sc, m2 = min * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * ((ql[l] & 0xF) + (b.qh[l] & u1 ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * ((ql[l] >> 4) + (b.qh[l] & u2 ? 16 : 0)) - m2;
      u1 = static_cast<uint8_t>(u1 << 2);
      u2 = static_cast<uint8_t>(u2 << 2);
    }
  }
}

namespace {

// The scale/min search shared by Q4_K (nmax 15) and Q5_K (nmax 31): fills L (codes), the packed 6-bit
// scales and mins, d and dmin.
void quantize_qk_scales_mins(const float* x, const float* qw, int nmax, uint8_t* L, uint8_t* packed, uint16_t* d_out,
                             uint16_t* dmin_out) {
  uint8_t L_aux[32];
  float weights[32], mins[8], scales[8];
  std::memset(packed, 0, 12);
  if (!qw) {
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < 8; ++j) {
      const float av_x = std::sqrt(sum_squares(x + 32 * j, 32) / 32);
      for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(x[32 * j + l]);
      scales[j] = nmax == 15
                      ? make_qkx2_quants(32, 15, x + 32 * j, weights, L + 32 * j, &mins[j], L_aux, -1.f, 0.1f, 20, false)
                      : make_qkx2_quants(32, 31, x + 32 * j, weights, L + 32 * j, &mins[j], L_aux, -0.5f, 0.1f, 15, false);
      max_scale = std::max(max_scale, scales[j]);
      max_min = std::max(max_min, mins[j]);
    }
    const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    for (int j = 0; j < 8; ++j) {
      const uint8_t ls = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_scale * scales[j])));
      const uint8_t lm = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_min * mins[j])));
      set_scale_min_k4(j, ls, lm, packed);
    }
    *d_out = to_f16(max_scale / 63.f);
    *dmin_out = to_f16(max_min / 63.f);
  } else {
    uint8_t Ls[8], Lm[8];
    float sw[8];
    const float sigma2 = 2 * sum_squares(x, kQK_K) / kQK_K;
    for (int j = 0; j < 8; ++j) {
      for (int l = 0; l < 32; ++l) weights[l] = qw[32 * j + l] * std::sqrt(sigma2 + x[32 * j + l] * x[32 * j + l]);
      float sumw = 0;
      for (int l = 0; l < 32; ++l) sumw += weights[l];
      sw[j] = sumw;
      scales[j] = make_qkx3_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], L_aux, -0.9f, 0.05f, 36, false);
    }
    const float d_block = make_qp_quants(8, 63, scales, Ls, sw);
    const float m_block = make_qp_quants(8, 63, mins, Lm, sw);
    for (int j = 0; j < 8; ++j) set_scale_min_k4(j, std::min<uint8_t>(63, Ls[j]), std::min<uint8_t>(63, Lm[j]), packed);
    *d_out = to_f16(d_block);
    *dmin_out = to_f16(m_block);
  }
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    get_scale_min_k4(j, packed, &sc, &m);
    const float d = f16(*d_out) * sc;
    if (!d) continue;
    const float dm = f16(*dmin_out) * m;
    for (int ii = 0; ii < 32; ++ii) L[32 * j + ii] = static_cast<uint8_t>(std::clamp(nearest_int((x[32 * j + ii] + dm) / d), 0, nmax));
  }
}

}  // namespace

void quantize_q4_k(const float* x, void* dst, int64_t n, const float* qw) {
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    BlockQ4_K b{};
    uint8_t L[kQK_K];
    quantize_qk_scales_mins(x, qw ? qw + i * kQK_K : nullptr, 15, L, b.scales, &b.d, &b.dmin);
    for (int j = 0; j < kQK_K; j += 64) {
      for (int l = 0; l < 32; ++l) b.qs[j / 2 + l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 4));
    }
    store_block(dst, i, b);
  }
}

void quantize_q5_k(const float* x, void* dst, int64_t n, const float* qw) {
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    BlockQ5_K b{};
    uint8_t L[kQK_K];
    quantize_qk_scales_mins(x, qw ? qw + i * kQK_K : nullptr, 31, L, b.scales, &b.d, &b.dmin);
    uint8_t m1 = 1, m2 = 2;
    for (int n0 = 0; n0 < kQK_K; n0 += 64) {
      for (int j = 0; j < 32; ++j) {
        int l1 = L[n0 + j], l2 = L[n0 + j + 32];
        if (l1 > 15) { l1 -= 16; b.qh[j] = static_cast<uint8_t>(b.qh[j] | m1); }
        if (l2 > 15) { l2 -= 16; b.qh[j] = static_cast<uint8_t>(b.qh[j] | m2); }
        b.qs[n0 / 2 + j] = static_cast<uint8_t>(l1 | (l2 << 4));
      }
      m1 = static_cast<uint8_t>(m1 << 2);
      m2 = static_cast<uint8_t>(m2 << 2);
    }
    store_block(dst, i, b);
  }
}

// ---- Q6_K: x = d * sc * (q - 32), q in [0, 63], int8 sc per 16 elements

void dequantize_q6_k(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load_block<BlockQ6_K>(src, i);
    const float d = f16(b.d);
    const uint8_t* ql = b.ql;
    const uint8_t* qh = b.qh;
    const int8_t* sc = b.scales;
    for (int n = 0; n < kQK_K; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = d * sc[is] * q1;
        y[l + 32] = d * sc[is + 2] * q2;
        y[l + 64] = d * sc[is + 4] * q3;
        y[l + 96] = d * sc[is + 6] * q4;
      }
    }
  }
}

void quantize_q6_k(const float* x, void* dst, int64_t n, const float* qw) {
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    BlockQ6_K b{};
    int8_t L[kQK_K];
    float scales[16];
    float max_scale = 0, max_abs_scale = 0;
    for (int ib = 0; ib < 16; ++ib) {
      // With importance the raw per-column weights drive the search (ggml's choice for Q6_K).
      scales[ib] = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib, 1, qw ? qw + i * kQK_K + 16 * ib : nullptr);
      if (std::fabs(scales[ib]) > max_abs_scale) {
        max_abs_scale = std::fabs(scales[ib]);
        max_scale = scales[ib];
      }
    }
    if (max_abs_scale < 1e-15f) {
      store_block(dst, i, b);  // all zero
      continue;
    }
    const float iscale = -128.f / max_scale;
    b.d = to_f16(1 / iscale);
    for (int ib = 0; ib < 16; ++ib) b.scales[ib] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[ib])));
    for (int j = 0; j < 16; ++j) {
      const float d = f16(b.d) * b.scales[j];
      if (!d) continue;
      for (int ii = 0; ii < 16; ++ii) L[16 * j + ii] = static_cast<int8_t>(std::clamp(nearest_int(x[16 * j + ii] / d), -32, 31) + 32);
    }
    uint8_t* ql = b.ql;
    uint8_t* qh = b.qh;
    for (int j = 0; j < kQK_K; j += 128, ql += 64, qh += 32) {
      for (int l = 0; l < 32; ++l) {
        const int q1 = L[j + l], q2 = L[j + l + 32], q3 = L[j + l + 64], q4 = L[j + l + 96];
        ql[l] = static_cast<uint8_t>((q1 & 0xF) | ((q3 & 0xF) << 4));
        ql[l + 32] = static_cast<uint8_t>((q2 & 0xF) | ((q4 & 0xF) << 4));
        qh[l] = static_cast<uint8_t>((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
      }
    }
    store_block(dst, i, b);
  }
}

// ---- Q8_K: x = d * q (fp32 d), the activation format of the K-quant dot products

void dequantize_q8_k(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load_block<BlockQ8_K>(src, i);
    for (int j = 0; j < kQK_K; ++j) *y++ = b.d * b.qs[j];
  }
}

// Exactly ggml's quantize_row_q8_K_ref (also what its CPU backend runs on activations): scale from the
// signed extreme so that it maps to -127, ties to even, bsums per 16.
void quantize_q8_k(const float* x, void* dst, int64_t n, const float*) {
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    BlockQ8_K b{};
    float max = 0, amax = 0;
    for (int j = 0; j < kQK_K; ++j) {
      if (std::fabs(x[j]) > amax) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    if (amax) {
      const float iscale = -127.f / max;
      for (int j = 0; j < kQK_K; ++j) b.qs[j] = static_cast<int8_t>(std::min(127, nearest_int(iscale * x[j])));
      for (int j = 0; j < 16; ++j) {
        int sum = 0;
        for (int l = 0; l < 16; ++l) sum += b.qs[16 * j + l];
        b.bsums[j] = static_cast<int16_t>(sum);
      }
      b.d = 1 / iscale;
    }
    store_block(dst, i, b);
  }
}

}  // namespace r1
