// AVX2 unpacking of the K-quants (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K) and IQ4_XS; the dot-product loop is
// super_tile in avx2_common.h. Layouts: quant_blocks.h; decode formulas: src/quant/quant_k.cpp, quant_iq4.cpp.
#include "avx2_common.h"

namespace r1::cpu {
namespace {

R1_AVX2_INLINE __m256i mask8(int v) { return _mm256_set1_epi8(static_cast<char>(v)); }

// Q2_K: {scales[16], qs[64], d, dmin}; w = d * (sc & 15) * q - dmin * (sc >> 4), q in [0, 3].
struct Q2K {
  static constexpr size_t kBytes = sizeof(BlockQ2_K);
  static constexpr Codes kCodes = Codes::kUnsigned;
  static constexpr bool kHasOff = true;
  using Prep = SuperPrep;
  static R1_AVX2_INLINE void prepare(const uint8_t* b, Prep& p) {
    const __m128i s = loadu128(b);
    const __m128i lo = _mm_and_si128(s, _mm_set1_epi8(0x0F));
    p.sc_lo = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(lo));
    p.sc_hi = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(_mm_srli_si128(lo, 8)));
    p.off = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(s, 4), _mm_set1_epi8(0x0F)));
    p.d = f16_at(b + 80);
    p.doff = f16_at(b + 82);
  }
  static R1_AVX2_INLINE Chunk chunk(const uint8_t* b, const Prep&, int J) {
    const __m256i q = loadu256(b + 16 + 32 * (J / 4));
    return unsigned_chunk(_mm256_and_si256(_mm256_srli_epi16(q, 2 * (J % 4)), mask8(3)));
  }
};

// Q3_K: {hmask[32], qs[64], scales[12], d}; w = d * sc * (q - 4), q = 2 low bits + 4 * high bit.
struct Q3K {
  static constexpr size_t kBytes = sizeof(BlockQ3_K);
  static constexpr Codes kCodes = Codes::kUnsigned;
  static constexpr bool kHasOff = true;
  struct Prep : SuperPrep {
    __m256i hmask;
  };
  static R1_AVX2_INLINE void prepare(const uint8_t* b, Prep& p) {
    // Sixteen 6-bit scales: low nibbles from bytes 0..7 (scale j and j+8 share byte j), top two bits of scale
    // j at bits 2*(j/4) of byte 8 + j%4; biased by 32.
    uint64_t low_bytes;
    uint32_t h;
    std::memcpy(&low_bytes, b + 96, 8);
    std::memcpy(&h, b + 104, 4);
    const __m128i m = _mm_set1_epi8(0x0F);
    const __m128i x = _mm_cvtsi64_si128(static_cast<long long>(low_bytes));
    const __m128i lo = _mm_unpacklo_epi64(_mm_and_si128(x, m), _mm_and_si128(_mm_srli_epi16(x, 4), m));
    const __m128i hi = _mm_set_epi32(static_cast<int>((h >> 6) & 0x03030303), static_cast<int>((h >> 4) & 0x03030303),
                                     static_cast<int>((h >> 2) & 0x03030303), static_cast<int>(h & 0x03030303));
    const __m128i sc = _mm_sub_epi8(_mm_or_si128(lo, _mm_slli_epi16(hi, 4)), _mm_set1_epi8(32));
    p.sc_lo = _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(sc));
    p.sc_hi = _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(_mm_srli_si128(sc, 8)));
    p.off = _mm256_slli_epi16(_mm256_cvtepi8_epi16(sc), 2);
    p.d = p.doff = f16_at(b + 108);
    p.hmask = loadu256(b);
  }
  static R1_AVX2_INLINE Chunk chunk(const uint8_t* b, const Prep& p, int J) {
    const __m256i q = loadu256(b + 32 + 32 * (J / 4));
    const __m256i low = _mm256_and_si256(_mm256_srli_epi16(q, 2 * (J % 4)), mask8(3));
    const __m256i high = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(p.hmask, J), mask8(1)), 2);
    return unsigned_chunk(_mm256_or_si256(low, high));
  }
};

// Q4_K / Q5_K scales and mins: eight 6-bit each, for 32 elements each.
R1_AVX2_INLINE void prepare_k4(const uint8_t* b, SuperPrep& p) {
  alignas(16) uint8_t sm[16];
  unpack_k4_scales(b + 4, sm, sm + 8);
  const __m128i v = _mm_load_si128(reinterpret_cast<const __m128i*>(sm));
  set_scales32(p, _mm_cvtepu8_epi16(v));
  const __m128i mins = _mm_cvtepu8_epi16(_mm_srli_si128(v, 8));
  p.off = _mm256_set_m128i(_mm_unpackhi_epi16(mins, mins), _mm_unpacklo_epi16(mins, mins));
  p.d = f16_at(b);
  p.doff = f16_at(b + 2);
}

// Q4_K: {d, dmin, scales[12], qs[128]}; w = d * sc * q - dmin * m, q in [0, 15].
struct Q4K {
  static constexpr size_t kBytes = sizeof(BlockQ4_K);
  static constexpr Codes kCodes = Codes::kUnsigned;
  static constexpr bool kHasOff = true;
  using Prep = SuperPrep;
  static R1_AVX2_INLINE void prepare(const uint8_t* b, Prep& p) { prepare_k4(b, p); }
  static R1_AVX2_INLINE Chunk chunk(const uint8_t* b, const Prep&, int J) {
    const __m256i q = loadu256(b + 16 + 32 * (J / 2));
    return unsigned_chunk(_mm256_and_si256(J % 2 ? _mm256_srli_epi16(q, 4) : q, mask8(0x0F)));
  }
};

// Q4_K in llama.cpp's float order (dot_q4_k_llama_order in ref_matmul.cpp): exact integer sums per span of
// each super-block, each through one fused multiply-add into a scale and a min accumulator. The span is 64
// elements for the grouped tokens (q4k_tile) and the whole super-block for the others (q4k_row). The
// horizontal integer sums this needs are the price of summing in that order without repacked rows.

// [sum of v[0], sum of v[1], sum of v[2], sum of v[3]] (8 int32 lanes each).
R1_AVX2_INLINE __m128i sum_each_of_four(const __m256i v[4]) {
  const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
  return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

// One row against four grouped tokens, one float lane per token: the four tokens' span sums share one
// reduction and their multiply-adds are one vector operation with exactly the per-token rounding.
R1_AVX2_INLINE void q4k_tile(int64_t nb, const uint8_t* w, const uint8_t* a, uint64_t a_stride, float* y,
                             int64_t y_stride) {
  constexpr int NT = 4;
  __m128 acc = _mm_setzero_ps(), accm = _mm_setzero_ps();
  for (int64_t ib = 0; ib < nb; ++ib) {
    const uint8_t* blk = w + ib * static_cast<int64_t>(Q4K::kBytes);
    const uint8_t* ab = a + ib * static_cast<int64_t>(kQ8_KBytes);
    SuperPrep p;
    prepare_k4(blk, p);
    float da[4] = {};
    __m256i mins[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                       _mm256_setzero_si256()};
#pragma GCC unroll 4
    for (int t = 0; t < NT; ++t) {
      da[t] = load_f32(ab + t * a_stride);
      // Lane k: mn[k] * (bsums[2k] + bsums[2k+1]), the min term of sub-block k.
      mins[t] = _mm256_madd_epi16(loadu256(ab + t * a_stride + kQ8_KBsumsOffset), p.off);
    }
    const __m128 dav = _mm_set_ps(da[3], da[2], da[1], da[0]);
    const __m128 ddv = _mm_mul_ps(_mm_set1_ps(p.d), dav), dmv = _mm_mul_ps(_mm_set1_ps(p.doff), dav);
    // The min terms of span k (sub-blocks 2k, 2k+1) for the four tokens.
    const __m256 h01 = _mm256_cvtepi32_ps(_mm256_hadd_epi32(mins[0], mins[1]));  // low lane: spans 0, 1
    const __m256 h23 = _mm256_cvtepi32_ps(_mm256_hadd_epi32(mins[2], mins[3]));  // high lane: spans 2, 3
    const __m128 l01 = _mm256_castps256_ps128(h01), l23 = _mm256_castps256_ps128(h23);
    const __m128 u01 = _mm256_extractf128_ps(h01, 1), u23 = _mm256_extractf128_ps(h23, 1);
    const __m128 min_span[4] = {_mm_shuffle_ps(l01, l23, _MM_SHUFFLE(2, 0, 2, 0)),
                                _mm_shuffle_ps(l01, l23, _MM_SHUFFLE(3, 1, 3, 1)),
                                _mm_shuffle_ps(u01, u23, _MM_SHUFFLE(2, 0, 2, 0)),
                                _mm_shuffle_ps(u01, u23, _MM_SHUFFLE(3, 1, 3, 1))};
    __m256i part[4];
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) {
      if (j % 2 == 0) {
        for (int t = 0; t < 4; ++t) part[t] = _mm256_setzero_si256();
      }
      super_chunk<Q4K, NT>(blk, p, j, ab, a_stride, part);
      if (j % 2 == 1) {
        acc = _mm_fmadd_ps(_mm_cvtepi32_ps(sum_each_of_four(part)), ddv, acc);
        accm = _mm_fmadd_ps(min_span[j / 2], dmv, accm);
      }
    }
  }
  alignas(16) float out[4];
  _mm_store_ps(out, _mm_sub_ps(acc, accm));
#pragma GCC unroll 4
  for (int t = 0; t < NT; ++t) y[t * y_stride] = out[t];
}

// One row against one token, one rounding per super-block: the scale and the min sums are reduced together
// and multiplied-added in one operation (lane 0: scales, lane 1: mins).
R1_AVX2_INLINE float q4k_row(int64_t nb, const uint8_t* w, const uint8_t* a) {
  __m128 acc = _mm_setzero_ps();
  for (int64_t ib = 0; ib < nb; ++ib) {
    const uint8_t* blk = w + ib * static_cast<int64_t>(Q4K::kBytes);
    prefetch_ahead<Q4K::kBytes>(blk);
    const uint8_t* ab = a + ib * static_cast<int64_t>(kQ8_KBytes);
    SuperPrep p;
    prepare_k4(blk, p);
    __m256i isum = _mm256_setzero_si256();
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) super_chunk<Q4K, 1>(blk, p, j, ab, 0, &isum);
    const __m256i mins = _mm256_madd_epi16(loadu256(ab + kQ8_KBsumsOffset), p.off);
    const __m256i h = _mm256_hadd_epi32(isum, mins);
    const __m128i q = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
    const __m128i both = _mm_hadd_epi32(q, q);  // [scale sum, min sum, scale sum, min sum]
    const float da = load_f32(ab);
    acc = _mm_fmadd_ps(_mm_cvtepi32_ps(both), _mm_set_ps(0.0f, 0.0f, p.doff * da, p.d * da), acc);
  }
  return _mm_cvtss_f32(_mm_sub_ss(acc, _mm_movehdup_ps(acc)));
}

// ---- Q4_K, eight rows at a time (prompts)
// llama.cpp multiplies prompt tokens four at a time against Q4_K rows it repacked eight at a time at load. r1
// packs each group of eight rows into a like interleave on the fly, per call, into a per-thread buffer that
// every token of the call then reuses: each int32 lane of a vector belongs to one row, so the rounding per 64
// elements that llama.cpp's order needs is one vector conversion and multiply-add per eight rows, with no
// horizontal sums, and the file's layout stays as it is (decode streams it unchanged; nothing is doubled).
// The codes are unpacked to bytes at packing (8% faster than unpacking nibbles per token tile).
struct Q4KRows8 {
  __m256i qs[64];  // [sub-block j][word i]: lane r = codes 4i .. 4i + 3 of sub-block j of row r, a byte each
  __m256i sc[8];   // sub-block j: lane r = scale j of row r, in both int16 halves
  __m256i mn[4];   // span k: lane r = mins 2k (low int16) and 2k + 1 (high int16) of row r
  __m256 d, dmin;
};

struct Q4KRows8Kernel {
  using Packed = Q4KRows8;
  struct State {
    __m256 acc, accm;  // scales and mins, eight rows
  };
  static constexpr int64_t kBlock = 256;
  static constexpr size_t kWeightBytes = Q4K::kBytes;
  static constexpr size_t kActBytes = kQ8_KBytes;

  static void pack(const uint8_t* w, uint64_t w_stride, int64_t nb, Packed* out) {
    for (int64_t ib = 0; ib < nb; ++ib) {
      Q4KRows8& o = out[ib];
      alignas(32) int32_t sc[8][8], mn[4][8];
      alignas(32) float d[8], dmin[8];
      for (int r = 0; r < 8; ++r) {
        const uint8_t* b = w + r * w_stride + ib * static_cast<int64_t>(Q4K::kBytes);
        uint8_t s8[8], m8[8];
        unpack_k4_scales(b + 4, s8, m8);
        for (int j = 0; j < 8; ++j) sc[j][r] = s8[j] * 0x10001;
        for (int k = 0; k < 4; ++k) mn[k][r] = m8[2 * k] | m8[2 * k + 1] << 16;
        d[r] = f16_at(b);
        dmin[r] = f16_at(b + 2);
      }
      for (int j = 0; j < 8; ++j) o.sc[j] = _mm256_load_si256(reinterpret_cast<const __m256i*>(sc[j]));
      for (int k = 0; k < 4; ++k) o.mn[k] = _mm256_load_si256(reinterpret_cast<const __m256i*>(mn[k]));
      o.d = _mm256_load_ps(d);
      o.dmin = _mm256_load_ps(dmin);
      for (int c = 0; c < 4; ++c) {
        __m256i v[8];
        for (int r = 0; r < 8; ++r) {
          v[r] = loadu256(w + r * w_stride + ib * static_cast<int64_t>(Q4K::kBytes) + 16 + 32 * c);
        }
        transpose8_epi32(v);
        for (int i = 0; i < 8; ++i) {
          o.qs[16 * c + i] = _mm256_and_si256(v[i], mask8(0x0F));  // sub-block 2c: low nibbles
          o.qs[16 * c + 8 + i] = _mm256_and_si256(_mm256_srli_epi16(v[i], 4), mask8(0x0F));
        }
      }
    }
  }

  // Eight packed rows against NT tokens, into st[0..NT). kPerSpan: llama.cpp's four-token kernel
  // (one rounding per 64 elements); otherwise its one-token kernel (one per super-block), as dot_q4_k_llama_order.
  // The code × activation pair sums of a sub-block add up in int16: eight of them are at most 8 × 2 × 15 × 128.
  static constexpr int kSpanAt[4] = {0, 1, 4, 5};

  // G groups of eight packed rows (group g at w + g * w_group, its states at st + g * st_group) against NT
  // tokens. With two groups each broadcast activation word feeds two weight vectors: the broadcast costs about
  // as much as the product it feeds, so sixteen rows by two tokens runs ~15 % faster than eight by four (the
  // same sums, so the same bits).
  template <int G, int NT, bool kPerSpan>
  static R1_AVX2_INLINE void tile_groups(const Packed* w, int64_t w_group, int64_t nb, const uint8_t* a,
                                         uint64_t a_stride, State* st, int64_t st_group) {
    __m256 acc[G][NT], accm[G][NT];
    for (int g = 0; g < G; ++g) {
      for (int t = 0; t < NT; ++t) {
        acc[g][t] = st[g * st_group + t].acc;
        accm[g][t] = st[g * st_group + t].accm;
      }
    }
    for (int64_t ib = 0; ib < nb; ++ib) {
      const Q4KRows8* b[G];
      for (int g = 0; g < G; ++g) b[g] = &w[g * w_group + ib];
      const uint8_t* ab = a + ib * static_cast<int64_t>(kQ8_KBytes);
      __m256 da[NT];
      alignas(32) int32_t bs[NT][8];  // span k: the activation sums of its two sub-blocks as int16, at kSpanAt[k]
      __m256i isum[G][NT], imin[G][NT];
      for (int t = 0; t < NT; ++t) {
        da[t] = _mm256_set1_ps(load_f32(ab + t * a_stride));
        // Sums per 32 (int32, |s| <= 32 * 128), packed back to int16 within each 128-bit lane: span k's pair is
        // int32 number k % 2 of lane k / 2.
        const __m256i s32 = _mm256_madd_epi16(loadu256(ab + t * a_stride + kQ8_KBsumsOffset), _mm256_set1_epi16(1));
        _mm256_store_si256(reinterpret_cast<__m256i*>(bs[t]), _mm256_packs_epi32(s32, s32));
        for (int g = 0; g < G; ++g) isum[g][t] = imin[g][t] = _mm256_setzero_si256();
      }
#pragma GCC unroll 1
      for (int k = 0; k < 4; ++k) {
        // Sub-blocks 2k and 2k + 1 in two passes: with both at once the sixteen registers do not hold the
        // accumulators of four tokens, and a spilled one costs more than the second pass.
        __m256i lo_s[G][NT], hi_s[G][NT];
        for (int g = 0; g < G; ++g) {
          for (int t = 0; t < NT; ++t) lo_s[g][t] = hi_s[g][t] = _mm256_setzero_si256();
        }
#pragma GCC unroll 2
        for (int i = 0; i < 8; ++i) {
          __m256i lo[G];
          for (int g = 0; g < G; ++g) lo[g] = _mm256_load_si256(&b[g]->qs[16 * k + i]);
#pragma GCC unroll 4
          for (int t = 0; t < NT; ++t) {
            const __m256i q = bcast32(ab + t * a_stride + kQ8_KQsOffset + 64 * k + 4 * i);
            for (int g = 0; g < G; ++g) lo_s[g][t] = _mm256_add_epi16(lo_s[g][t], _mm256_maddubs_epi16(lo[g], q));
          }
        }
#pragma GCC unroll 2
        for (int i = 0; i < 8; ++i) {
          __m256i hi[G];
          for (int g = 0; g < G; ++g) hi[g] = _mm256_load_si256(&b[g]->qs[16 * k + 8 + i]);
#pragma GCC unroll 4
          for (int t = 0; t < NT; ++t) {
            const __m256i q = bcast32(ab + t * a_stride + kQ8_KQsOffset + 64 * k + 32 + 4 * i);
            for (int g = 0; g < G; ++g) hi_s[g][t] = _mm256_add_epi16(hi_s[g][t], _mm256_maddubs_epi16(hi[g], q));
          }
        }
        for (int g = 0; g < G; ++g) {
#pragma GCC unroll 4
          for (int t = 0; t < NT; ++t) {
            const __m256i s = _mm256_add_epi32(_mm256_madd_epi16(lo_s[g][t], b[g]->sc[2 * k]),
                                               _mm256_madd_epi16(hi_s[g][t], b[g]->sc[2 * k + 1]));
            const __m256i m = _mm256_madd_epi16(b[g]->mn[k], _mm256_set1_epi32(bs[t][kSpanAt[k]]));
            if constexpr (kPerSpan) {
              acc[g][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(b[g]->d, da[t]), acc[g][t]);
              accm[g][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(m), _mm256_mul_ps(b[g]->dmin, da[t]), accm[g][t]);
            } else {
              isum[g][t] = _mm256_add_epi32(isum[g][t], s);
              imin[g][t] = _mm256_add_epi32(imin[g][t], m);
            }
          }
        }
      }
      if constexpr (!kPerSpan) {
        for (int g = 0; g < G; ++g) {
          for (int t = 0; t < NT; ++t) {
            acc[g][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[g][t]), _mm256_mul_ps(b[g]->d, da[t]), acc[g][t]);
            accm[g][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(imin[g][t]), _mm256_mul_ps(b[g]->dmin, da[t]), accm[g][t]);
          }
        }
      }
    }
    for (int g = 0; g < G; ++g) {
      for (int t = 0; t < NT; ++t) st[g * st_group + t] = {acc[g][t], accm[g][t]};
    }
  }
  template <int NT, bool kPerSpan>
  static R1_AVX2_INLINE void tile(const Packed* w, int64_t nb, const uint8_t* a, uint64_t a_stride, State* st) {
    tile_groups<1, NT, kPerSpan>(w, 0, nb, a, a_stride, st, 0);
  }
  static constexpr bool kPairsOfGroups = true;  // dot_rows8 may run tile_groups<2, 2, ...>
  static R1_AVX2_INLINE void finish(const State& st, float* y) { _mm256_storeu_ps(y, _mm256_sub_ps(st.acc, st.accm)); }
};

void dot_q4k(const DotArgs& a) noexcept {
  const int64_t nb = a.n / 256;
  dot_rows8<Q4KRows8Kernel>(a, [&](int64_t r) {
    const uint8_t* w = a.w + r * a.w_stride;
    for (int64_t t = 0; t < a.grouped_tokens; t += 4) {
      q4k_tile(nb, w, a.a + t * a.a_stride, a.a_stride, a.y + t * a.y_stride + r, a.y_stride);
    }
    for (int64_t t = a.grouped_tokens; t < a.n_tokens; ++t) {
      a.y[t * a.y_stride + r] = q4k_row(nb, w, a.a + t * a.a_stride);
    }
  });
}

// Q5_K: {d, dmin, scales[12], qh[32], qs[128]}; as Q4_K plus a fifth bit (bit j of qh for chunk j).
struct Q5K {
  static constexpr size_t kBytes = sizeof(BlockQ5_K);
  static constexpr Codes kCodes = Codes::kUnsigned;
  static constexpr bool kHasOff = true;
  struct Prep : SuperPrep {
    __m256i qh;
  };
  static R1_AVX2_INLINE void prepare(const uint8_t* b, Prep& p) {
    prepare_k4(b, p);
    p.qh = loadu256(b + 16);
  }
  static R1_AVX2_INLINE Chunk chunk(const uint8_t* b, const Prep& p, int J) {
    const __m256i q = loadu256(b + 48 + 32 * (J / 2));
    const __m256i low = _mm256_and_si256(J % 2 ? _mm256_srli_epi16(q, 4) : q, mask8(0x0F));
    const __m256i high = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(p.qh, J), mask8(1)), 4);
    return unsigned_chunk(_mm256_or_si256(low, high));
  }
};

// Q6_K: {ql[128], qh[64], scales[16] int8, d}; w = d * sc * (q - 32), q in [0, 63].
struct Q6K {
  static constexpr size_t kBytes = sizeof(BlockQ6_K);
  static constexpr Codes kCodes = Codes::kUnsigned;
  static constexpr bool kHasOff = true;
  using Prep = SuperPrep;
  static R1_AVX2_INLINE void prepare(const uint8_t* b, Prep& p) {
    const __m128i s = loadu128(b + 192);
    p.sc_lo = _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(s));
    p.sc_hi = _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(_mm_srli_si128(s, 8)));
    p.off = _mm256_slli_epi16(_mm256_cvtepi8_epi16(s), 5);
    p.d = p.doff = f16_at(b + 208);
  }
  static R1_AVX2_INLINE Chunk chunk(const uint8_t* b, const Prep&, int J) {
    const int h = J / 4, k = J % 4;
    const __m256i ql = loadu256(b + 64 * h + 32 * (k & 1));
    const __m256i low = _mm256_and_si256(k < 2 ? ql : _mm256_srli_epi16(ql, 4), mask8(0x0F));
    const __m256i qh = loadu256(b + 128 + 32 * h);
    const __m256i high = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * k), mask8(3)), 4);
    return unsigned_chunk(_mm256_or_si256(low, high));
  }
};

// Q6_K, eight rows at a time (prompts; see Q4KRows8): the 6-bit codes unpacked to bytes at packing, so the
// token loop only loads them. A pair of code × activation pair sums fits int16 (2 × 2 × 63 × 128); each pair
// goes through its 16-element scale at once. The -32 offset is taken off in integers (scale × 32 × the
// activations' sums per 16), and each row's super-block total is rounded once: llama.cpp's Q6_K also
// subtracts in integers, but keeps eight float lanes per row.
struct Q6KRows8 {
  __m256i q[64];   // [chunk j][word i]: lane r = codes 32j + 4i .. 32j + 4i + 3 of row r, one byte each
  __m256i sc[16];  // group m of 16: lane r = scale m of row r in both int16 halves
  __m256i off[8];  // groups 2p, 2p + 1: lane r = 32 × their scales as int16
  __m256 d;
};

struct Q6KRows8Kernel {
  using Packed = Q6KRows8;
  struct State {
    __m256 acc;
  };
  static constexpr int64_t kBlock = 256;
  static constexpr size_t kWeightBytes = Q6K::kBytes;
  static constexpr size_t kActBytes = kQ8_KBytes;

  static void pack(const uint8_t* w, uint64_t w_stride, int64_t nb, Packed* out) {
    for (int64_t ib = 0; ib < nb; ++ib) {
      Q6KRows8& o = out[ib];
      alignas(32) int32_t sc[16][8], off[8][8];
      alignas(32) float d[8];
      const uint8_t* blk[8];
      for (int r = 0; r < 8; ++r) {
        blk[r] = w + r * w_stride + ib * static_cast<int64_t>(Q6K::kBytes);
        const auto* s8 = reinterpret_cast<const int8_t*>(blk[r] + 192);
        for (int m = 0; m < 16; ++m) sc[m][r] = static_cast<int32_t>(static_cast<uint16_t>(s8[m]) * 0x10001u);
        for (int p = 0; p < 8; ++p) {
          const auto lo = static_cast<uint16_t>(32 * s8[2 * p]), hi = static_cast<uint16_t>(32 * s8[2 * p + 1]);
          off[p][r] = static_cast<int32_t>(lo | static_cast<uint32_t>(hi) << 16);
        }
        d[r] = f16_at(blk[r] + 208);
      }
      for (int m = 0; m < 16; ++m) o.sc[m] = _mm256_load_si256(reinterpret_cast<const __m256i*>(sc[m]));
      for (int p = 0; p < 8; ++p) o.off[p] = _mm256_load_si256(reinterpret_cast<const __m256i*>(off[p]));
      o.d = _mm256_load_ps(d);
      Q6K::Prep unused;
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) {
        __m256i v[8];
        for (int r = 0; r < 8; ++r) v[r] = Q6K::chunk(blk[r], unused, j).u;
        transpose8_epi32(v);
        for (int i = 0; i < 8; ++i) o.q[8 * j + i] = v[i];
      }
    }
  }

  template <int NT, bool>
  static R1_AVX2_INLINE void tile(const Packed* w, int64_t nb, const uint8_t* a, uint64_t a_stride, State* st) {
    __m256 acc[NT];
    for (int t = 0; t < NT; ++t) acc[t] = st[t].acc;
    for (int64_t ib = 0; ib < nb; ++ib) {
      const Q6KRows8& b = w[ib];
      const uint8_t* ab = a + ib * static_cast<int64_t>(kQ8_KBytes);
      __m256i isum[NT];
      for (int t = 0; t < NT; ++t) {
        // The offset first: lane r = sum over the 16 groups of 32 × scale × the activations' sum.
        const uint8_t* bs = ab + t * a_stride + kQ8_KBsumsOffset;
        __m256i o = _mm256_setzero_si256();
        for (int p = 0; p < 8; ++p) o = _mm256_add_epi32(o, _mm256_madd_epi16(b.off[p], bcast32(bs + 4 * p)));
        isum[t] = _mm256_sub_epi32(_mm256_setzero_si256(), o);
      }
#pragma GCC unroll 1
      for (int m = 0; m < 16; ++m) {
        const __m256i c0 = _mm256_load_si256(&b.q[4 * m]), c1 = _mm256_load_si256(&b.q[4 * m + 1]);
        const __m256i c2 = _mm256_load_si256(&b.q[4 * m + 2]), c3 = _mm256_load_si256(&b.q[4 * m + 3]);
#pragma GCC unroll 4
        for (int t = 0; t < NT; ++t) {
          const uint8_t* q = ab + t * a_stride + kQ8_KQsOffset + 16 * m;
          const __m256i s01 =
              _mm256_add_epi16(_mm256_maddubs_epi16(c0, bcast32(q)), _mm256_maddubs_epi16(c1, bcast32(q + 4)));
          const __m256i s23 =
              _mm256_add_epi16(_mm256_maddubs_epi16(c2, bcast32(q + 8)), _mm256_maddubs_epi16(c3, bcast32(q + 12)));
          const __m256i both = _mm256_add_epi32(_mm256_madd_epi16(s01, b.sc[m]), _mm256_madd_epi16(s23, b.sc[m]));
          isum[t] = _mm256_add_epi32(isum[t], both);
        }
      }
      for (int t = 0; t < NT; ++t) {
        const __m256 dd = _mm256_mul_ps(b.d, _mm256_set1_ps(load_f32(ab + t * a_stride)));
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), dd, acc[t]);
      }
    }
    for (int t = 0; t < NT; ++t) st[t].acc = acc[t];
  }
  static R1_AVX2_INLINE void finish(const State& st, float* y) { _mm256_storeu_ps(y, st.acc); }
};

void dot_q6k(const DotArgs& a) noexcept {
  dot_rows8<Q6KRows8Kernel>(a, [&](int64_t r) {
    DotArgs one = a;
    one.w = a.w + r * a.w_stride;
    one.n_rows = 1;
    one.y = a.y + r;
    dot_super<Q6K>(one);
  });
}

// IQ4_XS: {d, scales_h, scales_l[4], qs[128]}; w = d * (ls - 32) * kIq4NlValues[q].
struct Iq4Xs {
  static constexpr size_t kBytes = sizeof(BlockIq4Xs);
  static constexpr Codes kCodes = Codes::kSigned;
  static constexpr bool kHasOff = false;
  struct Prep : SuperPrep {
    __m256i values;
  };
  static R1_AVX2_INLINE void prepare(const uint8_t* b, Prep& p) {
    // ls_j = (nibble j of scales_l | bits 2j, 2j + 1 of scales_h << 4) - 32, eight at once (a scalar loop here
    // held IQ4_XS decoding at 0.6× llama.cpp's speed).
    uint16_t sh;
    uint32_t sl;
    std::memcpy(&sh, b + 2, 2);
    std::memcpy(&sl, b + 4, 4);
    const __m128i l = _mm_cvtsi32_si128(static_cast<int>(sl));
    const __m128i m = _mm_set1_epi8(0x0F);
    const __m256i lo = _mm256_cvtepu8_epi32(_mm_unpacklo_epi8(_mm_and_si128(l, m), _mm_and_si128(_mm_srli_epi16(l, 4), m)));
    const __m256i hi = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(sh), _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14)),
                                        _mm256_set1_epi32(3));
    const __m256i ls32 = _mm256_sub_epi32(_mm256_or_si256(lo, _mm256_slli_epi32(hi, 4)), _mm256_set1_epi32(32));
    const __m256i packed = _mm256_packs_epi32(ls32, ls32);  // per 128-bit lane: four int16, twice
    set_scales32(p, _mm256_castsi256_si128(_mm256_permute4x64_epi64(packed, 0x08)));
    p.d = f16_at(b);
    p.doff = 0.0f;
    p.values = _mm256_broadcastsi128_si256(loadu128(kIq4Values.v));
  }
  static R1_AVX2_INLINE Chunk chunk(const uint8_t* b, const Prep& p, int J) {
    const __m128i q = loadu128(b + 8 + 16 * J);
    const __m128i m = _mm_set1_epi8(0x0F);
    const __m256i idx = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), m), _mm_and_si128(q, m));
    return signed_chunk(_mm256_shuffle_epi8(p.values, idx));
  }
};

}  // namespace

void avx2::register_kquants(KernelTable& t) {
  t.dot[static_cast<size_t>(GgmlType::kQ2_K)] = dot_super<Q2K>;
  t.dot[static_cast<size_t>(GgmlType::kQ3_K)] = dot_super<Q3K>;
  t.dot[static_cast<size_t>(GgmlType::kQ4_K)] = dot_q4k;
  t.dot[static_cast<size_t>(GgmlType::kQ5_K)] = dot_super<Q5K>;
  t.dot[static_cast<size_t>(GgmlType::kQ6_K)] = dot_q6k;
  t.dot[static_cast<size_t>(GgmlType::kIQ4_XS)] = dot_super<Iq4Xs>;
}

}  // namespace r1::cpu
