// Scalar unpacking of one weight block into small integer codes plus integer scales, the form every integer
// dot product in this folder consumes: the scalar kernels use it directly and the SIMD kernels use it for
// the formats that have no hand-written SIMD unpack yet. The block layouts and decode formulas are those of
// src/quant (dequantize_*); this file only rewrites each decode as integers times a few float multipliers.
// No intrinsics here.
//
// Everything here has internal linkage (anonymous namespace) on purpose: this header is compiled into the
// scalar and the per-ISA translation units with different instruction-set flags, and a shared inline function
// would be one COMDAT symbol that the linker may take from an AVX-512 object for the scalar path. For the same
// reason it calls no inline function of other headers (half.h, std::array members): only data and types.
#pragma once

#include <cstdint>
#include <cstring>

#include "quant_blocks.h"
#include "quant_grids.h"

namespace r1::cpu {
namespace {

// fp16 bits to float, exact (subnormals, infinities and NaN payloads kept).
inline float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t em = h & 0x7fffu;
  uint32_t bits;
  if (em >= 0x7c00u) {
    bits = sign | 0x7f800000u | ((em & 0x3ffu) << 13);
  } else if (em >= 0x0400u) {
    bits = sign | ((em + (112u << 10)) << 13);  // rebias the exponent from 15 to 127
  } else {
    const float v = static_cast<float>(em) * 5.9604644775390625e-08f;  // subnormal: em * 2^-24, exact
    return sign ? -v : v;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Plain-array copies of the quant layer's tables, made at compile time.
struct Int8x16 {
  int8_t v[16];
};
inline constexpr Int8x16 kIq4Values = [] {
  Int8x16 t{};
  for (int i = 0; i < 16; ++i) t.v[i] = kIq4NlValues[i];
  return t;
}();
struct U8x128 {
  uint8_t v[128];
};
inline constexpr U8x128 kEvenSigns = [] {
  U8x128 t{};
  for (int i = 0; i < 128; ++i) t.v[i] = kSignsEven[i];
  return t;
}();

// A 256-element super-block as w[i] = d * sc[i/16] * q[i] - doff * off[i/16]. With Q8_K activations
// (a = da * qa, bsums = per-16 sums of qa) its dot product is
//   da * (d * sum_g sc[g] * sum_{i in g} q[i] * qa[i]  -  doff * sum_g off[g] * bsums[g]).
// |q| <= 127 and |sc|, |off| < 2^10, so every partial sum fits int32.
struct SuperBlockCodes {
  alignas(32) int8_t q[256];
  alignas(32) int16_t sc[16];
  alignas(32) int16_t off[16];
  float d = 0.0f;
  float doff = 0.0f;
  bool has_off = false;
};

// A 32-element block as w[i] = d * q[i] + m (m is zero except for Q4_1/Q5_1).
struct BlockCodes32 {
  int8_t q[32];
  float d = 0.0f;
  float m = 0.0f;
};

template <typename Block>
inline Block load_block_at(const uint8_t* p) {
  Block b;
  std::memcpy(&b, p, sizeof(Block));
  return b;
}

inline uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
inline uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline float load_f32(const uint8_t* p) {
  float v;
  std::memcpy(&v, p, 4);
  return v;
}

// Q4_K/Q5_K: the eight 6-bit scales and eight 6-bit mins packed in 12 bytes, as two arrays of 8 bytes.
// Bytes 0..3 hold scales 0..3 (low 6 bits) and the top 2 bits of scales 4..7; bytes 4..7 likewise for the
// mins; bytes 8..11 hold the low nibbles of scales 4..7 (low) and mins 4..7 (high).
inline void unpack_k4_scales(const uint8_t* packed, uint8_t sc[8], uint8_t mn[8]) {
  const uint32_t a = load_u32(packed), b = load_u32(packed + 4), c = load_u32(packed + 8);
  const uint32_t sc_lo = a & 0x3f3f3f3f;
  const uint32_t sc_hi = (c & 0x0f0f0f0f) | (((a >> 6) & 0x03030303) << 4);
  const uint32_t mn_lo = b & 0x3f3f3f3f;
  const uint32_t mn_hi = ((c >> 4) & 0x0f0f0f0f) | (((b >> 6) & 0x03030303) << 4);
  std::memcpy(sc, &sc_lo, 4);
  std::memcpy(sc + 4, &sc_hi, 4);
  std::memcpy(mn, &mn_lo, 4);
  std::memcpy(mn + 4, &mn_hi, 4);
}

// Q3_K: sixteen 6-bit scales biased by 32: low nibbles in bytes 0..7 (scale j and j+8 share byte j), top two
// bits of scale j at bits 2*(j/4) of byte 8 + j%4.
inline void unpack_q3_k_scales(const uint8_t* s, int16_t out[16]) {
  for (int j = 0; j < 16; ++j) {
    const int lo = j < 8 ? s[j] & 0xF : s[j - 8] >> 4;
    out[j] = static_cast<int16_t>((lo | (((s[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32);
  }
}

// IQ1_M: the fp16 super-scale spread over the top nibbles of the four 16-bit scale words.
inline float iq1_m_super_scale(const uint8_t* scales) {
  uint16_t sc[4];
  std::memcpy(sc, scales, 8);
  const uint16_t bits =
      static_cast<uint16_t>((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) | ((sc[2] >> 4) & 0x0f00) | (sc[3] & 0xf000));
  return half_to_float(bits);
}

// 8-bit even-parity sign masks (kSignsEven) expanded to eight ±1 bytes, for SIMD sign application.
inline constexpr auto kSignsEvenBytes = [] {
  struct Table {
    uint64_t v[128];
  } t{};
  for (int i = 0; i < 128; ++i) {
    uint64_t e = 0;
    for (int j = 0; j < 8; ++j) e |= static_cast<uint64_t>(kSignsEven[i] & (1 << j) ? 0xff : 0x01) << (8 * j);
    t.v[i] = e;
  }
  return t;
}();

// ---- 32-element blocks (Q8_0 / Q8_1 activations)

inline void unpack_q4_0(const uint8_t* p, BlockCodes32& u) {
  const auto b = load_block_at<BlockQ4_0>(p);
  u.d = half_to_float(b.d);
  for (int j = 0; j < 16; ++j) {
    u.q[j] = static_cast<int8_t>((b.qs[j] & 0xF) - 8);
    u.q[j + 16] = static_cast<int8_t>((b.qs[j] >> 4) - 8);
  }
}
inline void unpack_q4_1(const uint8_t* p, BlockCodes32& u) {
  const auto b = load_block_at<BlockQ4_1>(p);
  u.d = half_to_float(b.d);
  u.m = half_to_float(b.m);
  for (int j = 0; j < 16; ++j) {
    u.q[j] = static_cast<int8_t>(b.qs[j] & 0xF);
    u.q[j + 16] = static_cast<int8_t>(b.qs[j] >> 4);
  }
}
inline void unpack_q5_0(const uint8_t* p, BlockCodes32& u) {
  const auto b = load_block_at<BlockQ5_0>(p);
  u.d = half_to_float(b.d);
  uint32_t qh;
  std::memcpy(&qh, b.qh, 4);
  for (int j = 0; j < 16; ++j) {
    u.q[j] = static_cast<int8_t>(((b.qs[j] & 0xF) | (((qh >> j) & 1) << 4)) - 16);
    u.q[j + 16] = static_cast<int8_t>(((b.qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - 16);
  }
}
inline void unpack_q5_1(const uint8_t* p, BlockCodes32& u) {
  const auto b = load_block_at<BlockQ5_1>(p);
  u.d = half_to_float(b.d);
  u.m = half_to_float(b.m);
  uint32_t qh;
  std::memcpy(&qh, b.qh, 4);
  for (int j = 0; j < 16; ++j) {
    u.q[j] = static_cast<int8_t>((b.qs[j] & 0xF) | (((qh >> j) & 1) << 4));
    u.q[j + 16] = static_cast<int8_t>((b.qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4));
  }
}
inline void unpack_q8_0(const uint8_t* p, BlockCodes32& u) {
  u.d = half_to_float(load_u16(p));
  std::memcpy(u.q, p + 2, 32);
}
inline void unpack_iq4_nl(const uint8_t* p, BlockCodes32& u) {
  const auto b = load_block_at<BlockIq4Nl>(p);
  u.d = half_to_float(b.d);
  for (int j = 0; j < 16; ++j) {
    u.q[j] = kIq4Values.v[b.qs[j] & 0xF];
    u.q[j + 16] = kIq4Values.v[b.qs[j] >> 4];
  }
}

// ---- 256-element super-blocks (Q8_K activations)

inline void unpack_q2_k(const uint8_t* p, SuperBlockCodes& u) {
  const auto b = load_block_at<BlockQ2_K>(p);
  u.d = half_to_float(b.d);
  u.doff = half_to_float(b.dmin);
  u.has_off = true;
  for (int g = 0; g < 16; ++g) {
    u.sc[g] = b.scales[g] & 0xF;
    u.off[g] = b.scales[g] >> 4;
  }
  for (int j = 0; j < 8; ++j) {
    const uint8_t* q = b.qs + 32 * (j / 4);
    const int shift = 2 * (j % 4);
    for (int l = 0; l < 32; ++l) u.q[32 * j + l] = static_cast<int8_t>((q[l] >> shift) & 3);
  }
}
inline void unpack_q3_k(const uint8_t* p, SuperBlockCodes& u) {
  const auto b = load_block_at<BlockQ3_K>(p);
  u.d = u.doff = half_to_float(b.d);
  u.has_off = true;
  unpack_q3_k_scales(b.scales, u.sc);
  for (int g = 0; g < 16; ++g) u.off[g] = static_cast<int16_t>(4 * u.sc[g]);
  for (int j = 0; j < 8; ++j) {
    const uint8_t* q = b.qs + 32 * (j / 4);
    const int shift = 2 * (j % 4);
    for (int l = 0; l < 32; ++l) {
      u.q[32 * j + l] = static_cast<int8_t>(((q[l] >> shift) & 3) | (((b.hmask[l] >> j) & 1) << 2));
    }
  }
}
inline void unpack_q4_k(const uint8_t* p, SuperBlockCodes& u) {
  const auto b = load_block_at<BlockQ4_K>(p);
  u.d = half_to_float(b.d);
  u.doff = half_to_float(b.dmin);
  u.has_off = true;
  uint8_t sc[8], mn[8];
  unpack_k4_scales(b.scales, sc, mn);
  for (int j = 0; j < 8; ++j) {
    u.sc[2 * j] = u.sc[2 * j + 1] = sc[j];
    u.off[2 * j] = u.off[2 * j + 1] = mn[j];
    const uint8_t* q = b.qs + 32 * (j / 2);
    const int shift = 4 * (j % 2);
    for (int l = 0; l < 32; ++l) u.q[32 * j + l] = static_cast<int8_t>((q[l] >> shift) & 0xF);
  }
}
inline void unpack_q5_k(const uint8_t* p, SuperBlockCodes& u) {
  const auto b = load_block_at<BlockQ5_K>(p);
  u.d = half_to_float(b.d);
  u.doff = half_to_float(b.dmin);
  u.has_off = true;
  uint8_t sc[8], mn[8];
  unpack_k4_scales(b.scales, sc, mn);
  for (int j = 0; j < 8; ++j) {
    u.sc[2 * j] = u.sc[2 * j + 1] = sc[j];
    u.off[2 * j] = u.off[2 * j + 1] = mn[j];
    const uint8_t* q = b.qs + 32 * (j / 2);
    const int shift = 4 * (j % 2);
    for (int l = 0; l < 32; ++l) {
      u.q[32 * j + l] = static_cast<int8_t>(((q[l] >> shift) & 0xF) | (((b.qh[l] >> j) & 1) << 4));
    }
  }
}
inline void unpack_q6_k(const uint8_t* p, SuperBlockCodes& u) {
  const auto b = load_block_at<BlockQ6_K>(p);
  u.d = u.doff = half_to_float(b.d);
  u.has_off = true;
  for (int g = 0; g < 16; ++g) {
    u.sc[g] = b.scales[g];
    u.off[g] = static_cast<int16_t>(32 * b.scales[g]);
  }
  for (int j = 0; j < 8; ++j) {
    const int h = j / 4, k = j % 4;
    const uint8_t* ql = b.ql + 64 * h + 32 * (k & 1);
    const uint8_t* qh = b.qh + 32 * h;
    for (int l = 0; l < 32; ++l) {
      const int lo = k < 2 ? ql[l] & 0xF : ql[l] >> 4;
      u.q[32 * j + l] = static_cast<int8_t>(lo | (((qh[l] >> (2 * k)) & 3) << 4));
    }
  }
}
inline void unpack_iq4_xs(const uint8_t* p, SuperBlockCodes& u) {
  const auto b = load_block_at<BlockIq4Xs>(p);
  u.d = half_to_float(b.d);
  u.has_off = false;
  for (int j = 0; j < 8; ++j) {
    const int ls = ((b.scales_l[j / 2] >> 4 * (j % 2)) & 0xf) | (((b.scales_h >> 2 * j) & 3) << 4);
    u.sc[2 * j] = u.sc[2 * j + 1] = static_cast<int16_t>(ls - 32);
    const uint8_t* qs = b.qs + 16 * j;
    for (int l = 0; l < 16; ++l) {
      u.q[32 * j + l] = kIq4Values.v[qs[l] & 0xF];
      u.q[32 * j + l + 16] = kIq4Values.v[qs[l] >> 4];
    }
  }
}

// Grid coordinates times signs: 8 codes from a packed lattice entry and an 8-bit sign mask.
template <typename Entry>
inline void signed_grid8(Entry entry, uint8_t signs, int8_t* out, int n = 8) {
  for (int j = 0; j < n; ++j) {
    const int v = static_cast<uint8_t>(entry >> (8 * j));
    out[j] = static_cast<int8_t>(signs & (1 << j) ? -v : v);
  }
}

// IQ2_XXS: w = d * (2s+1)/8 * grid * sign, one 4-bit s per 32.
inline void unpack_iq2_xxs(const uint8_t* p, SuperBlockCodes& u) {
  u.d = half_to_float(load_u16(p)) * 0.125f;
  u.has_off = false;
  for (int j = 0; j < 8; ++j) {
    const uint32_t idx = load_u32(p + 2 + 8 * j), aux = load_u32(p + 6 + 8 * j);
    u.sc[2 * j] = u.sc[2 * j + 1] = static_cast<int16_t>(2 * (aux >> 28) + 1);
    for (int l = 0; l < 4; ++l) {
      signed_grid8(kIq2XxsGrid[(idx >> (8 * l)) & 0xff], kEvenSigns.v[(aux >> (7 * l)) & 127], u.q + 32 * j + 8 * l);
    }
  }
}
// IQ2_XS: 9-bit grid index + 7 sign bits per 8; 4-bit scales per 16.
inline void unpack_iq2_xs(const uint8_t* p, SuperBlockCodes& u) {
  const auto b = load_block_at<BlockIq2Xs>(p);
  u.d = half_to_float(b.d) * 0.125f;
  u.has_off = false;
  for (int j = 0; j < 8; ++j) {
    u.sc[2 * j] = static_cast<int16_t>(2 * (b.scales[j] & 0xf) + 1);
    u.sc[2 * j + 1] = static_cast<int16_t>(2 * (b.scales[j] >> 4) + 1);
    for (int l = 0; l < 4; ++l) {
      const uint16_t q = b.qs[4 * j + l];
      signed_grid8(kIq2XsGrid[q & 511], kEvenSigns.v[q >> 9], u.q + 32 * j + 8 * l);
    }
  }
}
// IQ2_S: 10-bit grid index (8 bits in qs, 2 in qh), explicit 8-bit signs, 4-bit scales per 16.
inline void unpack_iq2_s(const uint8_t* p, SuperBlockCodes& u) {
  const auto b = load_block_at<BlockIq2S>(p);
  u.d = half_to_float(b.d) * 0.125f;
  u.has_off = false;
  const uint8_t* signs = b.qs + 32;
  for (int j = 0; j < 8; ++j) {
    u.sc[2 * j] = static_cast<int16_t>(2 * (b.scales[j] & 0xf) + 1);
    u.sc[2 * j + 1] = static_cast<int16_t>(2 * (b.scales[j] >> 4) + 1);
    for (int l = 0; l < 4; ++l) {
      const int idx = b.qs[4 * j + l] | ((b.qh[j] << (8 - 2 * l)) & 0x300);
      signed_grid8(kIq2SGrid[idx], signs[4 * j + l], u.q + 32 * j + 8 * l);
    }
  }
}
// IQ3_XXS: w = d * (2s+1)/4 * grid * sign; two 4-coordinate entries per 8.
inline void unpack_iq3_xxs(const uint8_t* p, SuperBlockCodes& u) {
  const auto b = load_block_at<BlockIq3Xxs>(p);
  u.d = half_to_float(b.d) * 0.25f;
  u.has_off = false;
  for (int j = 0; j < 8; ++j) {
    const uint32_t aux = load_u32(b.qs + 64 + 4 * j);
    u.sc[2 * j] = u.sc[2 * j + 1] = static_cast<int16_t>(2 * (aux >> 28) + 1);
    const uint8_t* qs = b.qs + 8 * j;
    for (int l = 0; l < 4; ++l) {
      const uint8_t signs = kEvenSigns.v[(aux >> (7 * l)) & 127];
      int8_t* out = u.q + 32 * j + 8 * l;
      signed_grid8(kIq3XxsGrid[qs[2 * l]], signs, out, 4);
      signed_grid8(kIq3XxsGrid[qs[2 * l + 1]], static_cast<uint8_t>(signs >> 4), out + 4, 4);
    }
  }
}
// IQ3_S: w = d * (2s+1) * grid * sign; 9-bit grid indexes, explicit signs, 4-bit scales per 32.
inline void unpack_iq3_s(const uint8_t* p, SuperBlockCodes& u) {
  const auto b = load_block_at<BlockIq3S>(p);
  u.d = half_to_float(b.d);
  u.has_off = false;
  for (int j = 0; j < 8; ++j) {
    u.sc[2 * j] = u.sc[2 * j + 1] = static_cast<int16_t>(1 + 2 * ((b.scales[j / 2] >> (4 * (j % 2))) & 0xf));
    const uint8_t* qs = b.qs + 8 * j;
    const uint8_t qh = b.qh[j];
    for (int l = 0; l < 4; ++l) {
      const uint8_t signs = b.signs[4 * j + l];
      int8_t* out = u.q + 32 * j + 8 * l;
      signed_grid8(kIq3SGrid[qs[2 * l] | ((qh << (8 - 2 * l)) & 256)], signs, out, 4);
      signed_grid8(kIq3SGrid[qs[2 * l + 1] | ((qh << (7 - 2 * l)) & 256)], static_cast<uint8_t>(signs >> 4), out + 4, 4);
    }
  }
}
// IQ1_S: w = d * (2s+1) * (g + delta), g in {-1,0,1}, delta = ±1/8 per 32; as codes 8g ± 1 with d/8.
inline void unpack_iq1_s(const uint8_t* p, SuperBlockCodes& u) {
  const auto b = load_block_at<BlockIq1S>(p);
  u.d = half_to_float(b.d) * 0.125f;
  u.has_off = false;
  for (int j = 0; j < 8; ++j) {
    const uint16_t qh = b.qh[j];
    u.sc[2 * j] = u.sc[2 * j + 1] = static_cast<int16_t>(2 * ((qh >> 12) & 7) + 1);
    const int delta = qh & 0x8000 ? -1 : 1;
    for (int l = 0; l < 4; ++l) {
      const uint64_t grid = kIq1SGrid[b.qs[4 * j + l] | (((qh >> (3 * l)) & 7) << 8)];
      for (int k = 0; k < 8; ++k) u.q[32 * j + 8 * l + k] = static_cast<int8_t>(8 * static_cast<int8_t>(grid >> (8 * k)) + delta);
    }
  }
}
// IQ1_M: as IQ1_S with 3-bit scales per 16 and a delta sign per 8.
inline void unpack_iq1_m(const uint8_t* p, SuperBlockCodes& u) {
  const auto b = load_block_at<BlockIq1M>(p);
  u.d = iq1_m_super_scale(b.scales) * 0.125f;
  u.has_off = false;
  uint16_t sc[4];
  std::memcpy(sc, b.scales, 8);
  for (int j = 0; j < 8; ++j) {
    u.sc[2 * j] = static_cast<int16_t>(2 * ((sc[j / 2] >> (6 * (j % 2))) & 7) + 1);
    u.sc[2 * j + 1] = static_cast<int16_t>(2 * ((sc[j / 2] >> (6 * (j % 2) + 3)) & 7) + 1);
    const uint8_t* qs = b.qs + 4 * j;
    const uint8_t* qh = b.qh + 2 * j;
    const int idx[4] = {qs[0] | ((qh[0] << 8) & 0x700), qs[1] | ((qh[0] << 4) & 0x700), qs[2] | ((qh[1] << 8) & 0x700),
                        qs[3] | ((qh[1] << 4) & 0x700)};
    const int delta[4] = {qh[0] & 0x08 ? -1 : 1, qh[0] & 0x80 ? -1 : 1, qh[1] & 0x08 ? -1 : 1, qh[1] & 0x80 ? -1 : 1};
    for (int l = 0; l < 4; ++l) {
      const uint64_t grid = kIq1SGrid[idx[l]];
      for (int k = 0; k < 8; ++k) u.q[32 * j + 8 * l + k] = static_cast<int8_t>(8 * static_cast<int8_t>(grid >> (8 * k)) + delta[l]);
    }
  }
}

}  // namespace
}  // namespace r1::cpu
