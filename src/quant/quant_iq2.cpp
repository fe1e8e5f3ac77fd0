// IQ2_XXS, IQ2_XS and IQ2_S: groups of 8 magnitudes taken from an E8-style lattice (kIq2*Grid) with 7 stored
// signs (even parity), 4-bit block scales. Decode, and the lattice search ggml uses to encode.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "quant_blocks.h"
#include "quant_grids.h"
#include "quant_lattice.h"
#include "quant_util.h"

namespace r1 {

// ---- decode

void dequantize_iq2_xxs(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load_block<BlockIq2Xxs>(src, i);
    const float d = f16(b.d);
    for (int ib32 = 0; ib32 < 8; ++ib32) {
      uint32_t aux[2];
      std::memcpy(aux, b.qs + 4 * ib32, 8);  // 4 grid index bytes, then 4 × 7 sign bits and the 4-bit scale
      const float db = d * (0.5f + (aux[1] >> 28)) * 0.25f;
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint64_t grid = kIq2XxsGrid[(aux[0] >> (8 * l)) & 0xff];
        const uint8_t signs = kSignsEven[(aux[1] >> (7 * l)) & 127];
        for (int j = 0; j < 8; ++j) y[j] = db * grid_byte(grid, j) * (signs & (1 << j) ? -1.f : 1.f);
      }
    }
  }
}

void dequantize_iq2_xs(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load_block<BlockIq2Xs>(src, i);
    const float d = f16(b.d);
    for (int ib32 = 0; ib32 < 8; ++ib32) {
      const float db[2] = {d * (0.5f + (b.scales[ib32] & 0xf)) * 0.25f, d * (0.5f + (b.scales[ib32] >> 4)) * 0.25f};
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint16_t q = b.qs[4 * ib32 + l];  // 9-bit grid index, 7 sign bits
        const uint64_t grid = kIq2XsGrid[q & 511];
        const uint8_t signs = kSignsEven[q >> 9];
        for (int j = 0; j < 8; ++j) y[j] = db[l / 2] * grid_byte(grid, j) * (signs & (1 << j) ? -1.f : 1.f);
      }
    }
  }
}

void dequantize_iq2_s(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load_block<BlockIq2S>(src, i);
    const float d = f16(b.d);
    const uint8_t* qs = b.qs;
    const uint8_t* signs = b.qs + kQK_K / 8;
    for (int ib32 = 0; ib32 < 8; ++ib32, qs += 4, signs += 4) {
      const float db[2] = {d * (0.5f + (b.scales[ib32] & 0xf)) * 0.25f, d * (0.5f + (b.scales[ib32] >> 4)) * 0.25f};
      for (int l = 0; l < 4; ++l, y += 8) {
        // 10-bit grid index: 8 bits in qs, 2 bits per group in qh.
        const uint64_t grid = kIq2SGrid[qs[l] | ((b.qh[ib32] << (8 - 2 * l)) & 0x300)];
        for (int j = 0; j < 8; ++j) y[j] = db[l / 2] * grid_byte(grid, j) * (signs[l] & (1 << j) ? -1.f : 1.f);
      }
    }
  }
}

// ---- encode

namespace {

float sum_squares(const float* x, int n) {
  float s = 0;
  for (int i = 0; i < n; ++i) s += x[i] * x[i];
  return s;
}

// Block weights: importance × sqrt(sigma2 + x²) with importance, else the format's fallback.
void iq2_weights(const float* xb, const float* qw, float sigma2, int n, bool fallback_sigma, float* weight, float* waux) {
  for (int i = 0; i < n; ++i) {
    if (qw) weight[i] = qw[i] * std::sqrt(sigma2 + xb[i] * xb[i]);
    else if (fallback_sigma) weight[i] = 0.25f * sigma2 + xb[i] * xb[i];  // IQ2_S's choice without importance
    else weight[i] = std::sqrt(sigma2 + xb[i] * xb[i]);  // IQ2_XXS/XS: ggml requires importance; weight equally
  }
  for (int i = 0; i < n; ++i) waux[i] = std::sqrt(weight[i]);
}

// 4-bit block scale code for scale s given super-scale inverse id: s ≈ d * (2l + 1) / 2... as ggml encodes it.
int iq_scale_code(float id, float s) { return std::clamp(nearest_int(0.5f * (id * s - 1)), 0, 15); }

}  // namespace

void quantize_iq2_xxs(const float* x, void* dst, int64_t n, const float* qw) {
  const LatticeIndex& lattice = lattice_index(LatticeKind::kIq2Xxs);
  const LatticeSearch search{.kmax_q = 3, .n_steps = 6, .step = 0.1f, .scan_from_qp = true,
                             .refine = LatticeSearch::Refine::kAllGroups, .start_on_grid = true};
  for (int64_t ibl = 0; ibl < n / kQK_K; ++ibl, x += kQK_K) {
    BlockIq2Xxs b{};
    uint32_t q2[16] = {};
    float scales[8];
    float max_scale = 0;
    const float sigma2 = sum_squares(x, kQK_K) / kQK_K;
    for (int ib = 0; ib < 8; ++ib) {
      const float* xb = x + 32 * ib;
      float weight[32], waux[32], xval[32];
      int8_t L[32];
      uint8_t signs[4];
      iq2_weights(xb, qw ? qw + ibl * kQK_K + 32 * ib : nullptr, sigma2, 32, false, weight, waux);
      split_signs(xb, weight, 32, true, xval, signs);
      float max = xval[0];
      for (int i = 1; i < 32; ++i) max = std::max(max, xval[i]);
      scales[ib] = 0;
      if (max < 1e-15f) continue;
      const auto fitted = lattice_search(lattice, search, 32, xval, weight, waux, L);
      if (!fitted) continue;  // degenerate fit: the block stays zero
      float scale = *fitted;
      if (scale < 0) {
        scale = -scale;
        for (uint8_t& sg : signs) sg = static_cast<uint8_t>(~sg & 127);
      }
      for (int k = 0; k < 4; ++k) {
        q2[2 * ib] |= static_cast<uint32_t>(on_grid_index(lattice, L + 8 * k)) << (8 * k);
        q2[2 * ib + 1] |= static_cast<uint32_t>(signs[k]) << (7 * k);
      }
      scales[ib] = scale;
      max_scale = std::max(max_scale, scale);
    }
    if (max_scale) {
      const float d = max_scale / 31;
      b.d = to_f16(d);
      const float id = 1 / d;
      for (int ib = 0; ib < 8; ++ib) q2[2 * ib + 1] |= static_cast<uint32_t>(iq_scale_code(id, scales[ib])) << 28;
      std::memcpy(b.qs, q2, sizeof q2);
    }
    store_block(dst, ibl, b);
  }
}

namespace {

// IQ2_XS and IQ2_S: 16-element sub-blocks, two grid points each.
template <typename Pack>
void quantize_iq2_16(const float* x, int64_t n, const float* qw, LatticeKind kind, bool even_parity, float sigma_factor,
                     float d_fudge, Pack pack_block) {
  const LatticeIndex& lattice = lattice_index(kind);
  const LatticeSearch search{.kmax_q = 3, .n_steps = 9, .step = 0.1f, .scan_from_qp = false,
                             .refine = LatticeSearch::Refine::kOffGridGroups, .start_on_grid = true};
  const float eps = even_parity ? 1e-15f : 1e-8f;
  for (int64_t ibl = 0; ibl < n / kQK_K; ++ibl, x += kQK_K) {
    int grid[16][2] = {};
    uint8_t signs[16][2] = {};
    float scales[16];
    float max_scale = 0;
    const float sigma2 = sigma_factor * sum_squares(x, kQK_K) / kQK_K;
    for (int ib = 0; ib < 16; ++ib) {
      const float* xb = x + 16 * ib;
      float weight[16], waux[16], xval[16];
      int8_t L[16];
      iq2_weights(xb, qw ? qw + ibl * kQK_K + 16 * ib : nullptr, sigma2, 16, !even_parity, weight, waux);
      split_signs(xb, weight, 16, even_parity, xval, signs[ib]);
      float max = xval[0];
      for (int i = 1; i < 16; ++i) max = std::max(max, xval[i]);
      scales[ib] = 0;
      grid[ib][0] = grid[ib][1] = -1;  // not stored
      if (max < eps) continue;
      float scale = *lattice_search(lattice, search, 16, xval, weight, waux, L);
      if (scale < 0) {
        scale = -scale;
        for (uint8_t& sg : signs[ib]) sg = static_cast<uint8_t>(even_parity ? ~sg & 127 : ~sg);
      }
      for (int k = 0; k < 2; ++k) grid[ib][k] = on_grid_index(lattice, L + 8 * k);
      scales[ib] = scale;
      max_scale = std::max(max_scale, scale);
    }
    float d = max_scale / 31;
    uint8_t codes[16] = {};
    if (max_scale) {
      const float id = 1 / d;
      for (int ib = 0; ib < 16; ++ib) codes[ib] = static_cast<uint8_t>(iq_scale_code(id, scales[ib]));
    }
    pack_block(ibl, max_scale ? d * d_fudge : 0.f, max_scale != 0, grid, signs, codes);
  }
}

}  // namespace

void quantize_iq2_xs(const float* x, void* dst, int64_t n, const float* qw) {
  quantize_iq2_16(x, n, qw, LatticeKind::kIq2Xs, true, 1.f, 1.f,
                  [&](int64_t ibl, float d, bool any, const int (&grid)[16][2], const uint8_t (&signs)[16][2],
                      const uint8_t (&codes)[16]) {
                    BlockIq2Xs b{};
                    b.d = to_f16(d);
                    if (any) {
                      for (int ib = 0; ib < 16; ++ib) {
                        for (int k = 0; k < 2; ++k) {
                          if (grid[ib][k] >= 0) b.qs[2 * ib + k] = static_cast<uint16_t>(grid[ib][k] | (signs[ib][k] << 9));
                        }
                        b.scales[ib / 2] = static_cast<uint8_t>(b.scales[ib / 2] | (codes[ib] << (4 * (ib % 2))));
                      }
                    }
                    store_block(dst, ibl, b);
                  });
}

void quantize_iq2_s(const float* x, void* dst, int64_t n, const float* qw) {
  quantize_iq2_16(x, n, qw, LatticeKind::kIq2S, false, 2.f, 0.9875f,
                  [&](int64_t ibl, float d, bool any, const int (&grid)[16][2], const uint8_t (&signs)[16][2],
                      const uint8_t (&codes)[16]) {
                    BlockIq2S b{};
                    for (int ib = 0; ib < 16; ++ib) {
                      for (int k = 0; k < 2; ++k) {
                        if (grid[ib][k] < 0) continue;
                        const int i8 = 2 * ib + k;
                        b.qs[i8] = static_cast<uint8_t>(grid[ib][k] & 255);
                        b.qh[i8 / 4] = static_cast<uint8_t>(b.qh[i8 / 4] | ((grid[ib][k] >> 8) << (2 * (i8 % 4))));
                        b.qs[kQK_K / 8 + i8] = signs[ib][k];
                      }
                    }
                    if (any) {
                      b.d = to_f16(d);
                      for (int ib = 0; ib < 16; ++ib) b.scales[ib / 2] = static_cast<uint8_t>(b.scales[ib / 2] | (codes[ib] << (4 * (ib % 2))));
                    }
                    store_block(dst, ibl, b);
                  });
}

}  // namespace r1
