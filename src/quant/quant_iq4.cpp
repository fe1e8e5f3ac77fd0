// IQ4_NL (32-element blocks) and IQ4_XS (256-element super-blocks with 6-bit block scales): 4-bit codes into
// the fixed non-linear table kIq4NlValues. Decode, and the weighted scale search ggml uses to encode.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "quant_blocks.h"
#include "quant_grids.h"
#include "quant_util.h"

namespace r1 {
namespace {

const int8_t* iq4_values() { return kIq4NlValues.data(); }

// One super-block of n_super elements (32 for IQ4_NL, 256 for IQ4_XS) in blocks of 32: chooses a scale per
// block by scanning candidate scales around the max-based one (ntry steps each way), then for IQ4_XS quantizes
// the block scales to 6 bits and re-picks codes against them. Fills L (codes), scales (per block) and *d.
void iq4_search(int n_super, const float* x, const float* qw, uint8_t* L, float* d_out, uint8_t* scales6) {
  constexpr int kNtry = 7;
  const int8_t* values = iq4_values();
  float sigma2 = 0;
  for (int j = 0; j < n_super; ++j) sigma2 += x[j] * x[j];
  sigma2 *= 2.f / n_super;

  float scales[8];
  float weight[32];
  float max_scale = 0, amax_scale = 0;
  const int n_blocks = n_super / 32;
  for (int ib = 0; ib < n_blocks; ++ib) {
    const float* xb = x + ib * 32;
    uint8_t* Lb = L + ib * 32;
    for (int j = 0; j < 32; ++j) weight[j] = qw ? qw[ib * 32 + j] * std::sqrt(sigma2 + xb[j] * xb[j]) : xb[j] * xb[j];
    float amax = 0, max = 0;
    for (int j = 0; j < 32; ++j) {
      if (std::fabs(xb[j]) > amax) {
        amax = std::fabs(xb[j]);
        max = xb[j];
      }
    }
    if (amax < 1e-15f) {
      scales[ib] = 0;
      std::memset(Lb, 0, 32);
      continue;
    }
    float d = -max / values[0];
    float id = 1 / d;
    float sumqx = 0, sumq2 = 0;
    for (int j = 0; j < 32; ++j) {
      const int l = best_index_sorted(16, values, id * xb[j]);
      Lb[j] = static_cast<uint8_t>(l);
      const float q = values[l];
      sumqx += weight[j] * q * xb[j];
      sumq2 += weight[j] * q * q;
    }
    d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
    float best = d * sumqx;
    for (int itry = -kNtry; itry <= kNtry; ++itry) {
      id = (itry + values[0]) / max;
      sumqx = sumq2 = 0;
      for (int j = 0; j < 32; ++j) {
        const float q = values[best_index_sorted(16, values, id * xb[j])];
        sumqx += weight[j] * q * xb[j];
        sumq2 += weight[j] * q * q;
      }
      if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
        d = sumqx / sumq2;
        best = d * sumqx;
      }
    }
    scales[ib] = d;
    if (std::fabs(d) > amax_scale) {
      amax_scale = std::fabs(d);
      max_scale = d;
    }
  }

  if (n_blocks > 1) {
    const float d = -max_scale / 32;
    *d_out = d;
    const float id = d ? 1 / d : 0.f;
    for (int ib = 0; ib < n_blocks; ++ib) {
      const int l = std::clamp(nearest_int(id * scales[ib]), -32, 31);
      const float dl = d * l;
      const float idl = dl ? 1 / dl : 0.f;
      for (int j = 0; j < 32; ++j) L[ib * 32 + j] = static_cast<uint8_t>(best_index_sorted(16, values, idl * x[ib * 32 + j]));
      scales6[ib] = static_cast<uint8_t>(l + 32);
    }
  } else {
    *d_out = scales[0];
    const float id = scales[0] ? 1 / scales[0] : 0;
    for (int j = 0; j < 32; ++j) L[j] = static_cast<uint8_t>(best_index_sorted(16, values, id * x[j]));
  }
}

}  // namespace

void dequantize_iq4_nl(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const auto b = load_block<BlockIq4Nl>(src, i);
    const float d = f16(b.d);
    for (int j = 0; j < 16; ++j) {
      y[j] = d * kIq4NlValues[b.qs[j] & 0xf];
      y[j + 16] = d * kIq4NlValues[b.qs[j] >> 4];
    }
  }
}

void quantize_iq4_nl(const float* x, void* dst, int64_t n, const float* qw) {
  for (int64_t i = 0; i < n / 32; ++i, x += 32) {
    BlockIq4Nl b{};
    uint8_t L[32];
    float d;
    iq4_search(32, x, qw ? qw + i * 32 : nullptr, L, &d, nullptr);
    b.d = to_f16(d);
    for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(L[j] | (L[j + 16] << 4));
    store_block(dst, i, b);
  }
}

void dequantize_iq4_xs(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load_block<BlockIq4Xs>(src, i);
    const float d = f16(b.d);
    const uint8_t* qs = b.qs;
    for (int ib = 0; ib < 8; ++ib, y += 32, qs += 16) {
      const int ls = ((b.scales_l[ib / 2] >> 4 * (ib % 2)) & 0xf) | (((b.scales_h >> 2 * ib) & 3) << 4);
      const float dl = d * (ls - 32);
      for (int j = 0; j < 16; ++j) {
        y[j] = dl * kIq4NlValues[qs[j] & 0xf];
        y[j + 16] = dl * kIq4NlValues[qs[j] >> 4];
      }
    }
  }
}

void quantize_iq4_xs(const float* x, void* dst, int64_t n, const float* qw) {
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    BlockIq4Xs b{};
    uint8_t L[kQK_K];
    uint8_t scales6[8] = {};
    float d;
    iq4_search(kQK_K, x, qw ? qw + i * kQK_K : nullptr, L, &d, scales6);
    b.d = to_f16(d);
    for (int ib = 0; ib < 8; ++ib) {
      b.scales_l[ib / 2] = static_cast<uint8_t>(b.scales_l[ib / 2] | ((scales6[ib] & 0xf) << (4 * (ib % 2))));
      b.scales_h = static_cast<uint16_t>(b.scales_h | ((scales6[ib] >> 4) << (2 * ib)));
    }
    for (int k = 0; k < kQK_K / 32; ++k) {
      for (int j = 0; j < 16; ++j) b.qs[16 * k + j] = static_cast<uint8_t>(L[32 * k + j] | (L[32 * k + 16 + j] << 4));
    }
    store_block(dst, i, b);
  }
}

}  // namespace r1
