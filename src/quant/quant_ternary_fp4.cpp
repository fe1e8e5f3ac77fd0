// The ternary formats TQ1_0 (base-3 packed, 1.69 bpw) and TQ2_0 (2-bit, 2.06 bpw), and the microscaling
// formats MXFP4 (E2M1 codes, shared E8M0 exponent per 32) and NVFP4 (E2M1 codes, UE4M3 scale per 16).
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include "quant_blocks.h"
#include "quant_grids.h"
#include "quant_util.h"

namespace r1 {
namespace {

// TQ1_0 stores 5 trits per byte as a fixed-point fraction q = ceil(v * 256 / 243); trit n is recovered as
// the integer part of (q * 3^n mod 256) * 3 / 256.
inline int tq1_trit(uint8_t q, int n) {
  static constexpr uint8_t kPow3[6] = {1, 3, 9, 27, 81, 243};
  const uint8_t shifted = static_cast<uint8_t>(q * kPow3[n]);
  return ((static_cast<uint16_t>(shifted) * 3) >> 8) - 1;
}

inline uint8_t tq1_pack(int v /* base-3 number < 243 */) { return static_cast<uint8_t>((v * 256 + 242) / 243); }

// E8M0 exponent e as 2^(e-128): half the block scale, because kFp4Values are doubled.
inline float e8m0_to_fp32_half(uint8_t e) {
  const uint32_t bits = e < 2 ? 0x00200000u << e : static_cast<uint32_t>(e - 1) << 23;
  return std::bit_cast<float>(bits);
}

// UE4M3 (unsigned, 4 exponent bits with bias 7, 3 mantissa bits) times 0.5, the NVFP4 sub-block scale.
inline float ue4m3_to_fp32_half(uint8_t x) {
  if (x == 0 || x == 0x7F) return 0.0f;
  const int exp = (x >> 3) & 0xF;
  const int man = x & 0x7;
  const float raw = exp == 0 ? std::ldexp(static_cast<float>(man), -9) : std::ldexp(1.0f + man / 8.0f, exp - 7);
  return raw * 0.5f;
}

// Nearest UE4M3 encoding of x (as ggml's ggml_fp32_to_ue4m3: round to nearest on the 3-bit mantissa).
uint8_t fp32_to_ue4m3(float x) {
  if (!(x > 0.0f)) return 0;
  x = std::min(x, 448.0f);
  const uint32_t bits = std::bit_cast<uint32_t>(x);
  const int fp32_exp = static_cast<int>((bits >> 23) & 0xFF) - 127;
  const int ue4m3_exp = fp32_exp + 7;
  if (ue4m3_exp <= 0) {
    // Subnormal: value = man * 2^-9.
    const int man = static_cast<int>(x * 512.0f + 0.5f);
    if (man < 1) return 0;
    return static_cast<uint8_t>(std::min(man, 7));
  }
  // Top 3 mantissa bits, rounded on the next bit; a mantissa carry moves into the exponent.
  const int rounded = ((ue4m3_exp << 3) | static_cast<int>((bits >> 20) & 0x7)) + static_cast<int>((bits >> 19) & 1);
  if ((rounded >> 3) >= 15) return 0x7E;  // the largest finite value (0x7F is NaN)
  return static_cast<uint8_t>(rounded);
}

// The E2M1 code whose (doubled) value times e is nearest to x; first index wins ties.
int best_fp4_index(float x, float e) {
  int best = 0;
  float best_err = std::fabs(kFp4Values[0] * e - x);
  for (int i = 1; i < 16; ++i) {
    const float err = std::fabs(kFp4Values[i] * e - x);
    if (err < best_err) {
      best = i;
      best_err = err;
    }
  }
  return best;
}

float absmax(const float* x, int n) {
  float amax = 0;
  for (int j = 0; j < n; ++j) amax = std::max(amax, std::fabs(x[j]));
  return amax;
}

}  // namespace

// ---- TQ1_0: x = d * t, t in {-1, 0, 1}; 48 bytes of 5 trits (element order: byte-major within 32/16
// columns, trit-minor), then 4 bytes of 4 trits

void dequantize_tq1_0(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load_block<BlockTq1_0>(src, i);
    const float d = f16(b.d);
    for (int n = 0; n < 5; ++n) {
      for (int m = 0; m < 32; ++m) *y++ = static_cast<float>(tq1_trit(b.qs[m], n)) * d;
    }
    for (int n = 0; n < 5; ++n) {
      for (int m = 0; m < 16; ++m) *y++ = static_cast<float>(tq1_trit(b.qs[32 + m], n)) * d;
    }
    for (int n = 0; n < 4; ++n) {
      for (int j = 0; j < 4; ++j) *y++ = static_cast<float>(tq1_trit(b.qh[j], n)) * d;
    }
  }
}

void quantize_tq1_0(const float* x, void* dst, int64_t n, const float*) {
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    BlockTq1_0 b{};
    const float d = absmax(x, kQK_K);
    const float id = d ? 1.0f / d : 0.0f;
    b.d = to_f16(d);
    auto trit = [&](float v) { return static_cast<int>(std::lround(v * id)) + 1; };  // -1, 0, 1 -> 0, 1, 2
    for (int m = 0; m < 32; ++m) {
      int v = 0;
      for (int t = 0; t < 5; ++t) v = v * 3 + trit(x[m + t * 32]);
      b.qs[m] = tq1_pack(v);
    }
    x += 160;
    for (int m = 0; m < 16; ++m) {
      int v = 0;
      for (int t = 0; t < 5; ++t) v = v * 3 + trit(x[m + t * 16]);
      b.qs[32 + m] = tq1_pack(v);
    }
    x += 80;
    for (int j = 0; j < 4; ++j) {
      int v = 0;
      for (int t = 0; t < 4; ++t) v = v * 3 + trit(x[j + t * 4]);
      b.qh[j] = tq1_pack(v * 3);  // the first trit goes to the most significant of five positions
    }
    x += 16;
    store_block(dst, i, b);
  }
}

// ---- TQ2_0: x = d * (q - 1), q in {0, 1, 2}; byte m of each 32 holds elements m, m+32, m+64, m+96

void dequantize_tq2_0(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load_block<BlockTq2_0>(src, i);
    const float d = f16(b.d);
    for (int j = 0; j < 64; j += 32) {
      for (int l = 0; l < 4; ++l) {
        for (int m = 0; m < 32; ++m) *y++ = static_cast<float>(((b.qs[j + m] >> (2 * l)) & 3) - 1) * d;
      }
    }
  }
}

void quantize_tq2_0(const float* x, void* dst, int64_t n, const float*) {
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    BlockTq2_0 b{};
    const float d = absmax(x, kQK_K);
    const float id = d ? 1.0f / d : 0.0f;
    b.d = to_f16(d);
    for (int j = 0; j < 64; j += 32, x += 128) {
      for (int m = 0; m < 32; ++m) {
        int q = 0;
        for (int l = 0; l < 4; ++l) q |= ((static_cast<int>(std::lround(x[m + 32 * l] * id)) + 1) & 3) << (2 * l);
        b.qs[j + m] = static_cast<uint8_t>(q);
      }
    }
    store_block(dst, i, b);
  }
}

// ---- MXFP4: x = 2^(e-127) * e2m1(q)

void dequantize_mxfp4(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const auto b = load_block<BlockMxfp4>(src, i);
    const float d = e8m0_to_fp32_half(b.e);
    for (int j = 0; j < 16; ++j) {
      y[j] = kFp4Values[b.qs[j] & 0x0F] * d;
      y[j + 16] = kFp4Values[b.qs[j] >> 4] * d;
    }
  }
}

void quantize_mxfp4(const float* x, void* dst, int64_t n, const float*) {
  for (int64_t i = 0; i < n / 32; ++i, x += 32) {
    BlockMxfp4 b{};
    const float amax = absmax(x, 32);
    // The exponent puts the largest magnitude in [4, 8) times 2^(e-127), i.e. at the top E2M1 binade.
    // (Clamped so that subnormal or infinite input cannot overflow the 8-bit exponent.)
    const float e = amax > 0.0f ? std::floor(std::log2(amax)) - 2 + 127 : 0.0f;
    b.e = static_cast<uint8_t>(std::clamp(e, 0.0f, 254.0f));
    const float d = e8m0_to_fp32_half(b.e);
    for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(best_fp4_index(x[j], d) | (best_fp4_index(x[j + 16], d) << 4));
    store_block(dst, i, b);
  }
}

// ---- NVFP4: x = ue4m3(d_s) * e2m1(q) per 16-element sub-block

void dequantize_nvfp4(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load_block<BlockNvfp4>(src, i);
    for (int s = 0; s < 4; ++s, y += 16) {
      const float d = ue4m3_to_fp32_half(b.d[s]);
      for (int j = 0; j < 8; ++j) {
        y[j] = kFp4Values[b.qs[8 * s + j] & 0x0F] * d;
        y[j + 8] = kFp4Values[b.qs[8 * s + j] >> 4] * d;
      }
    }
  }
}

void quantize_nvfp4(const float* x, void* dst, int64_t n, const float*) {
  for (int64_t i = 0; i < n / 64; ++i) {
    BlockNvfp4 b{};
    for (int s = 0; s < 4; ++s, x += 16) {
      b.d[s] = fp32_to_ue4m3(absmax(x, 16) / 6.0f);
      const float d = ue4m3_to_fp32_half(b.d[s]);
      for (int j = 0; j < 8; ++j) b.qs[8 * s + j] = static_cast<uint8_t>(best_fp4_index(x[j], d) | (best_fp4_index(x[j + 8], d) << 4));
    }
    store_block(dst, i, b);
  }
}

}  // namespace r1
