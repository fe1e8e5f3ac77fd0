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

// IQ4_XS: {d, scales_h, scales_l[4], qs[128]}; w = d * (ls - 32) * kIq4NlValues[q].
struct Iq4Xs {
  static constexpr size_t kBytes = sizeof(BlockIq4Xs);
  static constexpr Codes kCodes = Codes::kSigned;
  static constexpr bool kHasOff = false;
  struct Prep : SuperPrep {
    __m256i values;
  };
  static R1_AVX2_INLINE void prepare(const uint8_t* b, Prep& p) {
    uint16_t sh;
    std::memcpy(&sh, b + 2, 2);
    alignas(16) int16_t ls[8];
    for (int j = 0; j < 8; ++j) {
      ls[j] = static_cast<int16_t>((((b[4 + j / 2] >> 4 * (j % 2)) & 0xf) | (((sh >> 2 * j) & 3) << 4)) - 32);
    }
    set_scales32(p, _mm_load_si128(reinterpret_cast<const __m128i*>(ls)));
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
  t.dot[static_cast<size_t>(GgmlType::kQ4_K)] = dot_super<Q4K>;
  t.dot[static_cast<size_t>(GgmlType::kQ5_K)] = dot_super<Q5K>;
  t.dot[static_cast<size_t>(GgmlType::kQ6_K)] = dot_super<Q6K>;
  t.dot[static_cast<size_t>(GgmlType::kIQ4_XS)] = dot_super<Iq4Xs>;
}

}  // namespace r1::cpu
