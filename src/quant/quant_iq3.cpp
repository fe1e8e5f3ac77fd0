// IQ3_XXS and IQ3_S: groups of 4 magnitudes from a D4-style lattice (kIq3XxsGrid, kIq3SGrid) with sign bits and
// block scales. Decode, and the lattice search ggml uses to encode.
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

void dequantize_iq3_xxs(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load_block<BlockIq3Xxs>(src, i);
    const float d = f16(b.d);
    const uint8_t* qs = b.qs;
    const uint8_t* scales_and_signs = b.qs + kQK_K / 4;
    for (int ib32 = 0; ib32 < 8; ++ib32, qs += 8) {
      uint32_t aux;
      std::memcpy(&aux, scales_and_signs + 4 * ib32, 4);
      const float db = d * (0.5f + (aux >> 28)) * 0.5f;
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint8_t signs = kSignsEven[(aux >> (7 * l)) & 127];
        const uint32_t g1 = kIq3XxsGrid[qs[2 * l]], g2 = kIq3XxsGrid[qs[2 * l + 1]];
        for (int j = 0; j < 4; ++j) {
          y[j] = db * grid_byte(g1, j) * (signs & (1 << j) ? -1.f : 1.f);
          y[j + 4] = db * grid_byte(g2, j) * (signs & (1 << (j + 4)) ? -1.f : 1.f);
        }
      }
    }
  }
}

void dequantize_iq3_s(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load_block<BlockIq3S>(src, i);
    const float d = f16(b.d);
    const uint8_t* qs = b.qs;
    const uint8_t* signs = b.signs;
    for (int ib32 = 0; ib32 < 8; ++ib32, qs += 8, signs += 4) {
      // Odd 4-bit scales: two 32-element blocks share one byte.
      const float db = d * (1 + 2 * ((b.scales[ib32 / 2] >> (4 * (ib32 % 2))) & 0xf));
      const uint8_t qh = b.qh[ib32];
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint32_t g1 = kIq3SGrid[qs[2 * l] | ((qh << (8 - 2 * l)) & 256)];
        const uint32_t g2 = kIq3SGrid[qs[2 * l + 1] | ((qh << (7 - 2 * l)) & 256)];
        for (int j = 0; j < 4; ++j) {
          y[j] = db * grid_byte(g1, j) * (signs[l] & (1 << j) ? -1.f : 1.f);
          y[j + 4] = db * grid_byte(g2, j) * (signs[l] & (1 << (j + 4)) ? -1.f : 1.f);
        }
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

// Both IQ3 formats: 32-element blocks of eight 4-value grid points; weights x² without importance.
struct Iq3Block {
  int grid[8];
  uint8_t signs[4];
  float scale;
  bool stored;
};

Iq3Block search_iq3_block(const LatticeIndex& lattice, const LatticeSearch& search, const float* xb, const float* qw,
                          float sigma2, bool even_parity, float eps) {
  Iq3Block out{};
  float weight[32], waux[32], xval[32];
  int8_t L[32];
  for (int i = 0; i < 32; ++i) weight[i] = qw ? qw[i] * std::sqrt(sigma2 + xb[i] * xb[i]) : xb[i] * xb[i];
  for (int i = 0; i < 32; ++i) waux[i] = std::sqrt(weight[i]);
  split_signs(xb, weight, 32, even_parity, xval, out.signs);
  float max = xval[0];
  for (int i = 1; i < 32; ++i) max = std::max(max, xval[i]);
  if (max < eps || max == 0) return out;
  float scale = *lattice_search(lattice, search, 32, xval, weight, waux, L);
  if (scale < 0) {
    scale = -scale;
    for (uint8_t& sg : out.signs) sg = static_cast<uint8_t>(even_parity ? ~sg & 127 : ~sg);
  }
  for (int k = 0; k < 8; ++k) out.grid[k] = on_grid_index(lattice, L + 4 * k);
  out.scale = scale;
  out.stored = true;
  return out;
}

int iq_scale_code(float id, float s) { return std::clamp(nearest_int(0.5f * (id * s - 1)), 0, 15); }

}  // namespace

void quantize_iq3_xxs(const float* x, void* dst, int64_t n, const float* qw) {
  const LatticeIndex& lattice = lattice_index(LatticeKind::kIq3Xxs);
  const LatticeSearch search{.kmax_q = 8, .n_steps = 15, .step = 0.2f, .scan_from_qp = false,
                             .refine = LatticeSearch::Refine::kOffGridGroups, .start_on_grid = true};
  for (int64_t ibl = 0; ibl < n / kQK_K; ++ibl, x += kQK_K) {
    BlockIq3Xxs b{};
    uint32_t scales_and_signs[8] = {};
    float scales[8] = {};
    float max_scale = 0;
    const float sigma2 = 2 * sum_squares(x, kQK_K) / kQK_K;
    for (int ib = 0; ib < 8; ++ib) {
      const Iq3Block blk = search_iq3_block(lattice, search, x + 32 * ib, qw ? qw + ibl * kQK_K + 32 * ib : nullptr,
                                            sigma2, true, 1e-8f);
      if (!blk.stored) continue;
      for (int k = 0; k < 8; ++k) b.qs[8 * ib + k] = static_cast<uint8_t>(blk.grid[k]);
      scales_and_signs[ib] = blk.signs[0] | (blk.signs[1] << 7) | (blk.signs[2] << 14) | (blk.signs[3] << 21);
      scales[ib] = blk.scale;
      max_scale = std::max(max_scale, blk.scale);
    }
    if (!max_scale) {
      store_block(dst, ibl, BlockIq3Xxs{});
      continue;
    }
    const float d = max_scale / 31;
    b.d = to_f16(d * 1.0125f);  // ggml's empirical correction of the super-scale
    const float id = 1 / d;
    for (int ib = 0; ib < 8; ++ib) scales_and_signs[ib] |= static_cast<uint32_t>(iq_scale_code(id, scales[ib])) << 28;
    std::memcpy(b.qs + kQK_K / 4, scales_and_signs, sizeof scales_and_signs);
    store_block(dst, ibl, b);
  }
}

void quantize_iq3_s(const float* x, void* dst, int64_t n, const float* qw) {
  const LatticeIndex& lattice = lattice_index(LatticeKind::kIq3S);
  const LatticeSearch search{.kmax_q = 8, .n_steps = 9, .step = 0.2f, .scan_from_qp = false,
                             .refine = LatticeSearch::Refine::kAllGroupsIfOffGrid, .start_on_grid = false};
  for (int64_t ibl = 0; ibl < n / kQK_K; ++ibl, x += kQK_K) {
    BlockIq3S b{};
    float scales[8] = {};
    float max_scale = 0;
    const float sigma2 = 2 * sum_squares(x, kQK_K) / kQK_K;
    for (int ib = 0; ib < 8; ++ib) {
      const Iq3Block blk = search_iq3_block(lattice, search, x + 32 * ib, qw ? qw + ibl * kQK_K + 32 * ib : nullptr,
                                            sigma2, false, 0.f);
      if (!blk.stored) continue;
      for (int k = 0; k < 8; ++k) {
        b.qs[8 * ib + k] = static_cast<uint8_t>(blk.grid[k] & 255);
        b.qh[ib] = static_cast<uint8_t>(b.qh[ib] | ((blk.grid[k] >> 8) << k));
      }
      std::memcpy(b.signs + 4 * ib, blk.signs, 4);
      scales[ib] = blk.scale;
      max_scale = std::max(max_scale, blk.scale);
    }
    if (max_scale) {
      const float d = max_scale / 31;
      b.d = to_f16(d * 1.033f);  // ggml's empirical correction of the super-scale
      const float id = 1 / d;
      for (int ib = 0; ib < 8; ib += 2) {
        b.scales[ib / 2] = static_cast<uint8_t>(iq_scale_code(id, scales[ib]) | (iq_scale_code(id, scales[ib + 1]) << 4));
      }
    }
    store_block(dst, ibl, b);
  }
}

}  // namespace r1
