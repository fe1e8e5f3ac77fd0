// IQ1_S and IQ1_M: groups of 8 values from a ternary lattice (kIq1SGrid, coordinates in {-1, 0, 1}) shifted by
// ±kIq1Delta, with 3-bit block scales. Decode, and the lattice search ggml uses to encode.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "check.h"
#include "quant_blocks.h"
#include "quant_grids.h"
#include "quant_lattice.h"
#include "quant_util.h"

namespace r1 {

// ---- decode

void dequantize_iq1_s(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load_block<BlockIq1S>(src, i);
    const float d = f16(b.d);
    const uint8_t* qs = b.qs;
    for (int ib = 0; ib < 8; ++ib, qs += 4) {
      // qh: 4 × 3 high index bits, a 3-bit scale, and the sign of the delta.
      const float dl = d * (2 * ((b.qh[ib] >> 12) & 7) + 1);
      const float delta = b.qh[ib] & 0x8000 ? -kIq1Delta : kIq1Delta;
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint64_t grid = kIq1SGrid[qs[l] | (((b.qh[ib] >> (3 * l)) & 7) << 8)];
        for (int j = 0; j < 8; ++j) y[j] = dl * (grid_sbyte(grid, j) + delta);
      }
    }
  }
}

void dequantize_iq1_m(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load_block<BlockIq1M>(src, i);
    uint16_t sc[4];
    std::memcpy(sc, b.scales, 8);
    // The fp16 super-scale is spread over the top nibble of each of the four 16-bit scale words.
    const uint16_t scale_bits = static_cast<uint16_t>((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) | ((sc[2] >> 4) & 0x0f00) | (sc[3] & 0xf000));
    const float d = f16(scale_bits);
    const uint8_t* qs = b.qs;
    const uint8_t* qh = b.qh;
    for (int ib = 0; ib < 8; ++ib, qs += 4, qh += 2) {
      const float dl1 = d * (2 * ((sc[ib / 2] >> (6 * (ib % 2) + 0)) & 0x7) + 1);
      const float dl2 = d * (2 * ((sc[ib / 2] >> (6 * (ib % 2) + 3)) & 0x7) + 1);
      const uint16_t idx[4] = {static_cast<uint16_t>(qs[0] | ((qh[0] << 8) & 0x700)),
                               static_cast<uint16_t>(qs[1] | ((qh[0] << 4) & 0x700)),
                               static_cast<uint16_t>(qs[2] | ((qh[1] << 8) & 0x700)),
                               static_cast<uint16_t>(qs[3] | ((qh[1] << 4) & 0x700))};
      const float delta[4] = {qh[0] & 0x08 ? -kIq1Delta : kIq1Delta, qh[0] & 0x80 ? -kIq1Delta : kIq1Delta,
                              qh[1] & 0x08 ? -kIq1Delta : kIq1Delta, qh[1] & 0x80 ? -kIq1Delta : kIq1Delta};
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint64_t grid = kIq1SGrid[idx[l]];
        const float dl = l < 2 ? dl1 : dl2;
        for (int j = 0; j < 8; ++j) y[j] = dl * (grid_sbyte(grid, j) + delta[l]);
      }
    }
  }
}

// ---- encode
//
// Each group of 8 takes values from {-1, 0, 1} + delta (delta = ±kIq1Delta, one sign per group or block).
// With three levels the weighted least-squares split can be searched exhaustively: sort the block, and try
// every pair of boundaries (i1, i2) that splits the sorted values into the -1, 0 and +1 groups. Then the
// chosen levels are snapped to the lattice (the nearest of the neighbours where they fall off it).

namespace {

constexpr float kXp[3] = {-1 + kIq1Delta, kIq1Delta, 1 + kIq1Delta};  // levels with a positive delta
constexpr float kXm[3] = {-1 - kIq1Delta, -kIq1Delta, 1 - kIq1Delta};  // and with a negative one

float sum_squares(const float* x, int n) {
  float s = 0;
  for (int i = 0; i < n; ++i) s += x[i] * x[i];
  return s;
}

// Element order by value (ties keep index order).
void sort_by_value(const float* xb, int n, int* order) {
  for (int j = 0; j < n; ++j) order[j] = j;
  std::stable_sort(order, order + n, [&](int a, int b) { return xb[a] < xb[b]; });
}

// The grid point whose levels (mapped through xx) best fit xval at scale; writes its levels to L.
int iq1_best_neighbour(const LatticeIndex& lattice, std::span<const uint16_t> candidates, const float* xval,
                       const float* weight, float scale, const float* xx, int8_t* L) {
  float best = FLT_MAX;
  int best_index = -1;
  for (uint16_t j : candidates) {
    const int8_t* p = lattice.point(j);
    float d2 = 0;
    for (int i = 0; i < 8; ++i) {
      const float diff = scale * xx[(p[i] - 1) / 2] - xval[i];
      d2 += weight[i] * diff * diff;
    }
    if (d2 < best) {
      best = d2;
      best_index = j;
    }
  }
  R1_CHECK(best_index >= 0);
  const int8_t* p = lattice.point(best_index);
  for (int i = 0; i < 8; ++i) L[i] = static_cast<int8_t>((p[i] - 1) / 2);
  return best_index;
}

// Snaps the levels of each group of 8 to the lattice; xx_of(k) gives the level values of group k. When a group
// moved, refits the scale. Returns the grid indices in index[].
void snap_to_lattice(const LatticeIndex& lattice, int n, const float* xb, const float* weight, int8_t* L,
                     const float* (*xx_of)(int, int), int shift, float* scale, uint16_t* index) {
  bool all_on_grid = true;
  for (int k = 0; k < n / 8; ++k) {
    const int m = lattice.map[cube_index(lattice, L + 8 * k)];
    if (m >= 0) {
      index[k] = static_cast<uint16_t>(m);
    } else {
      all_on_grid = false;
      index[k] = static_cast<uint16_t>(
          iq1_best_neighbour(lattice, lattice.neighbours_of(m), xb + 8 * k, weight + 8 * k, *scale, xx_of(shift, k), L + 8 * k));
    }
  }
  if (!all_on_grid) {
    float sumqx = 0, sumq2 = 0;
    for (int k = 0; k < n / 8; ++k) {
      const float* xx = xx_of(shift, k);
      const int8_t* p = lattice.point(index[k]);
      for (int j = 0; j < 8; ++j) {
        const float q = xx[(p[j] - 1) / 2];
        sumqx += weight[8 * k + j] * q * xb[8 * k + j];
        sumq2 += weight[8 * k + j] * q * q;
      }
    }
    if (sumqx > 0 && sumq2 > 0) *scale = sumqx / sumq2;
  }
}

// IQ1_S: one delta sign per 32-block (shift +1 / -1).
const float* iq1s_levels(int shift, int) { return shift == 1 ? kXp : kXm; }
// IQ1_M: a delta sign per group of 8; shift k in 0..3: bit 1 for group 0, bit 0 for group 1 (set: negative).
const float* iq1m_levels(int shift, int k) { return (k == 0 ? shift < 2 : shift % 2 == 0) ? kXp : kXm; }

}  // namespace

void quantize_iq1_s(const float* x, void* dst, int64_t n, const float* qw) {
  constexpr int kBlock = 32;
  const LatticeIndex& lattice = lattice_index(LatticeKind::kIq1S);
  for (int64_t ibl = 0; ibl < n / kQK_K; ++ibl, x += kQK_K) {
    BlockIq1S b{};
    float scales[8] = {};
    int8_t shifts[8];
    float max_scale = 0;
    const float sigma2 = 2 * sum_squares(x, kQK_K) / kQK_K;
    for (int ib = 0; ib < kQK_K / kBlock; ++ib) {
      const float* xb = x + kBlock * ib;
      float weight[kBlock];
      // ggml requires importance for IQ1_S; without it every column weighs the same.
      for (int i = 0; i < kBlock; ++i) weight[i] = (qw ? qw[ibl * kQK_K + kBlock * ib + i] : 1.f) * std::sqrt(sigma2 + xb[i] * xb[i]);
      float max = std::fabs(xb[0]);
      for (int i = 1; i < kBlock; ++i) max = std::max(max, std::fabs(xb[i]));
      shifts[ib] = 1;
      if (max < 1e-12f) continue;
      int order[kBlock];
      sort_by_value(xb, kBlock, order);
      float sumx[kBlock + 1] = {}, sumw[kBlock + 1] = {};
      for (int j = 0; j < kBlock; ++j) {
        sumx[j + 1] = sumx[j] + weight[order[j]] * xb[order[j]];
        sumw[j + 1] = sumw[j] + weight[order[j]];
      }
      float best_score = -FLT_MAX, scale = max;
      int best_i1 = -1, best_i2 = -1, best_shift = 0;
      for (int i1 = 0; i1 <= kBlock; ++i1) {
        for (int i2 = i1; i2 <= kBlock; ++i2) {
          for (int shift : {1, -1}) {
            const float* xx = shift == 1 ? kXp : kXm;
            const float sumqx = (sumx[i1] - sumx[0]) * xx[0] + (sumx[i2] - sumx[i1]) * xx[1] + (sumx[kBlock] - sumx[i2]) * xx[2];
            const float sumq2 = (sumw[i1] - sumw[0]) * xx[0] * xx[0] + (sumw[i2] - sumw[i1]) * xx[1] * xx[1] +
                                (sumw[kBlock] - sumw[i2]) * xx[2] * xx[2];
            if (sumq2 > 0 && sumqx * sumqx > best_score * sumq2) {
              scale = sumqx / sumq2;
              best_score = scale * sumqx;
              best_i1 = i1;
              best_i2 = i2;
              best_shift = shift;
            }
          }
        }
      }
      if (best_i1 < 0 || best_i2 < 0 || best_shift == 0) continue;
      int8_t L[kBlock];
      for (int j = 0; j < kBlock; ++j) L[order[j]] = static_cast<int8_t>(j < best_i1 ? 0 : j < best_i2 ? 1 : 2);
      if (scale < 0) {
        for (int8_t& l : L) l = static_cast<int8_t>(2 - l);
        scale = -scale;
        best_shift = -best_shift;
      }
      uint16_t index[4];
      snap_to_lattice(lattice, kBlock, xb, weight, L, iq1s_levels, best_shift, &scale, index);
      uint16_t h = 0;
      for (int k = 0; k < 4; ++k) {
        b.qs[4 * ib + k] = static_cast<uint8_t>(index[k] & 255);
        h = static_cast<uint16_t>(h | ((index[k] >> 8) << (3 * k)));
      }
      b.qh[ib] = h;
      scales[ib] = scale;
      shifts[ib] = static_cast<int8_t>(best_shift);
      max_scale = std::max(max_scale, scale);
    }
    if (max_scale) {
      const float d = max_scale / 15;
      b.d = to_f16(d * 1.125f);  // ggml's empirical correction of the super-scale
      const float id = 1 / d;
      for (int ib = 0; ib < 8; ++ib) {
        int l = std::clamp(nearest_int(0.5f * (id * scales[ib] - 1)), 0, 7);
        if (shifts[ib] == -1) l |= 8;
        b.qh[ib] = static_cast<uint16_t>(b.qh[ib] | (l << 12));
      }
    }
    store_block(dst, ibl, b);
  }
}

void quantize_iq1_m(const float* x, void* dst, int64_t n, const float* qw) {
  constexpr int kBlock = 16;
  constexpr uint8_t kShiftMasks[4] = {0x00, 0x80, 0x08, 0x88};
  const LatticeIndex& lattice = lattice_index(LatticeKind::kIq1S);
  for (int64_t ibl = 0; ibl < n / kQK_K; ++ibl, x += kQK_K) {
    BlockIq1M b{};
    float scales[16] = {};
    int shifts[16] = {};
    float max_scale = 0;
    const float sigma2 = 2 * sum_squares(x, kQK_K) / kQK_K;
    auto block_weights = [&](int ib, float* weight) {
      const float* xb = x + kBlock * ib;
      for (int i = 0; i < kBlock; ++i) weight[i] = qw ? qw[ibl * kQK_K + kBlock * ib + i] * std::sqrt(sigma2 + xb[i] * xb[i]) : xb[i] * xb[i];
    };
    for (int ib = 0; ib < kQK_K / kBlock; ++ib) {
      const float* xb = x + kBlock * ib;
      float weight[kBlock];
      block_weights(ib, weight);
      float max = std::fabs(xb[0]);
      for (int i = 1; i < kBlock; ++i) max = std::max(max, std::fabs(xb[i]));
      if (max < 1e-7f) continue;
      int order[kBlock];
      sort_by_value(xb, kBlock, order);
      float best_score = -FLT_MAX, scale = max;
      int best_i1 = -1, best_i2 = -1, best_k = -1;
      // Shift k: (group 0, group 1) deltas (+,+), (+,-), (-,+), (-,-). The sums are accumulated in sorted order.
      for (int i1 = 0; i1 <= kBlock; ++i1) {
        for (int i2 = i1; i2 <= kBlock; ++i2) {
          float sumqx[4] = {}, sumq2[4] = {};
          for (int j = 0; j < kBlock; ++j) {
            const int i = order[j];
            const int level = j < i1 ? 0 : j < i2 ? 1 : 2;
            const float w = weight[i];
            const float p = kXp[level], m = kXm[level];
            const bool first = i < kBlock / 2;
            // Group 0 takes the first delta sign of k, group 1 the second.
            const float q1 = p, q2 = first ? p : m, q3 = first ? m : p, q4 = m;
            sumqx[0] += w * q1 * xb[i];
            sumqx[1] += w * q2 * xb[i];
            sumqx[2] += w * q3 * xb[i];
            sumqx[3] += w * q4 * xb[i];
            sumq2[0] += w * q1 * q1;
            sumq2[1] += w * q2 * q2;
            sumq2[2] += w * q3 * q3;
            sumq2[3] += w * q4 * q4;
          }
          for (int k = 0; k < 4; ++k) {
            if (sumq2[k] > 0 && sumqx[k] * sumqx[k] > best_score * sumq2[k]) {
              scale = sumqx[k] / sumq2[k];
              best_score = scale * sumqx[k];
              best_i1 = i1;
              best_i2 = i2;
              best_k = k;
            }
          }
        }
      }
      if (best_i1 < 0 || best_i2 < 0 || best_k < 0) continue;
      int8_t L[kBlock];
      for (int j = 0; j < kBlock; ++j) L[order[j]] = static_cast<int8_t>(j < best_i1 ? 0 : j < best_i2 ? 1 : 2);
      if (scale < 0) {
        for (int8_t& l : L) l = static_cast<int8_t>(2 - l);
        scale = -scale;
        best_k = 3 - best_k;
      }
      uint16_t index[2];
      snap_to_lattice(lattice, kBlock, xb, weight, L, iq1m_levels, best_k, &scale, index);
      b.qs[2 * ib] = static_cast<uint8_t>(index[0] & 255);
      b.qs[2 * ib + 1] = static_cast<uint8_t>(index[1] & 255);
      b.qh[ib] = static_cast<uint8_t>((index[0] >> 8) | ((index[1] >> 8) << 4));
      scales[ib] = scale;
      shifts[ib] = best_k;
      max_scale = std::max(max_scale, scale);
    }
    if (!max_scale) {
      store_block(dst, ibl, b);
      continue;
    }
    // 3-bit block scales, then the super-scale refitted against the stored codes.
    uint16_t sc[4] = {};
    float d = max_scale / 15;
    const float id = 1 / d;
    float sumqx = 0, sumq2 = 0;
    for (int ib = 0; ib < 16; ++ib) {
      const int l = std::clamp(nearest_int(0.5f * (id * scales[ib] - 1)), 0, 7);
      sc[ib / 4] = static_cast<uint16_t>(sc[ib / 4] | (l << (3 * (ib % 4))));
      b.qh[ib] = static_cast<uint8_t>(b.qh[ib] | kShiftMasks[shifts[ib]]);
      const float* xb = x + kBlock * ib;
      float weight[kBlock];
      block_weights(ib, weight);
      for (int k = 0; k < 2; ++k) {
        const float* xx = iq1m_levels(shifts[ib], k);
        const int8_t* p = lattice.point(b.qs[2 * ib + k] + ((b.qh[ib] << (8 - 4 * k)) & 0x700));
        for (int j = 0; j < 8; ++j) {
          const float q = xx[(p[j] - 1) / 2] * (2 * l + 1);
          sumqx += weight[8 * k + j] * q * xb[8 * k + j];
          sumq2 += weight[8 * k + j] * q * q;
        }
      }
    }
    if (sumq2 > 0) d = sumqx / sumq2;
    const uint16_t s = to_f16(d * 1.1125f);  // ggml's empirical correction of the super-scale
    sc[0] = static_cast<uint16_t>(sc[0] | ((s & 0x000f) << 12));
    sc[1] = static_cast<uint16_t>(sc[1] | ((s & 0x00f0) << 8));
    sc[2] = static_cast<uint16_t>(sc[2] | ((s & 0x0f00) << 4));
    sc[3] = static_cast<uint16_t>(sc[3] | (s & 0xf000));
    std::memcpy(b.scales, sc, sizeof sc);
    store_block(dst, ibl, b);
  }
}

}  // namespace r1
