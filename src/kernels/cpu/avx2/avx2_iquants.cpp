// AVX2 kernels for the lattice i-quants, each super-block unpacked from the grid tables in SIMD registers
// (IQ1_M from a table of its final codes): the same integer codes and scales as the scalar unpackers of
// cpu_unpack.h, so the same sums.
// Decode formulas: src/quant/quant_iq1.cpp, quant_iq2.cpp, quant_iq3.cpp.
#include "avx2_common.h"

namespace r1::cpu {
namespace {

R1_AVX2_INLINE uint32_t u32_at(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
R1_AVX2_INLINE uint16_t u16_at(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
R1_AVX2_INLINE long long as_ll(uint64_t v) { return static_cast<long long>(v); }
// 2s + 1 for eight int16 s.
R1_AVX2_INLINE __m128i odd_scales(__m128i s) { return _mm_add_epi16(_mm_add_epi16(s, s), _mm_set1_epi16(1)); }
// Four 7-bit even-parity sign groups (bits 7l .. 7l + 6 of aux: the signs of coordinates 8l .. 8l + 7) as 32
// bytes of +1 / -1: IQ2_XXS and IQ3_XXS.
R1_AVX2_INLINE __m256i signs_from_groups7(uint32_t aux) {
  return _mm256_set_epi64x(as_ll(kSignsEvenBytes.v[(aux >> 21) & 127]), as_ll(kSignsEvenBytes.v[(aux >> 14) & 127]),
                           as_ll(kSignsEvenBytes.v[(aux >> 7) & 127]), as_ll(kSignsEvenBytes.v[aux & 127]));
}
// The 4-bit fields of the low bytes of s in order, low nibble first, one per byte: IQ2_XS, IQ2_S, IQ3_S scales.
R1_AVX2_INLINE __m128i nibbles_in_order(__m128i s) {
  return _mm_unpacklo_epi8(_mm_and_si128(s, _mm_set1_epi8(0x0F)), _mm_and_si128(_mm_srli_epi16(s, 4), _mm_set1_epi8(0x0F)));
}

// IQ2_XXS: {d, qs[64]}: per 32, four grid index bytes then 4 × 7 sign bits and a 4-bit scale s;
// w = d/8 * (2s+1) * grid * sign.
struct Iq2Xxs {
  static constexpr size_t kBytes = sizeof(BlockIq2Xxs);
  static constexpr Codes kCodes = Codes::kSigned;
  static constexpr bool kHasOff = false;
  using Prep = SuperPrep;
  static R1_AVX2_INLINE void prepare(const uint8_t* b, Prep& p) {
    // s_j = top nibble of the second word of group j: from the odd int32 lanes of the 64 bytes, in SIMD (a
    // scalar loop storing them for a vector load stalled on store forwarding every super-block).
    const __m256i odd = _mm256_setr_epi32(1, 3, 5, 7, 1, 3, 5, 7);
    const __m256i lo = _mm256_permutevar8x32_epi32(_mm256_srli_epi32(loadu256(b + 2), 28), odd);
    const __m256i hi = _mm256_permutevar8x32_epi32(_mm256_srli_epi32(loadu256(b + 34), 28), odd);
    set_scales32(p, odd_scales(_mm_packs_epi32(_mm256_castsi256_si128(lo), _mm256_castsi256_si128(hi))));
    p.d = f16_at(b) * 0.125f;
    p.doff = 0.0f;
  }
  static R1_AVX2_INLINE Chunk chunk(const uint8_t* b, const Prep&, int J) {
    const uint32_t idx = u32_at(b + 2 + 8 * J), aux = u32_at(b + 6 + 8 * J);
    const __m256i grid = _mm256_set_epi64x(as_ll(kIq2XxsGrid[idx >> 24]), as_ll(kIq2XxsGrid[(idx >> 16) & 255]),
                                           as_ll(kIq2XxsGrid[(idx >> 8) & 255]), as_ll(kIq2XxsGrid[idx & 255]));
    return {grid, signs_from_groups7(aux)};
  }
};

// IQ1_M's codes per group of 8, 8g + delta as int8, by a 12-bit index: the 11-bit grid index, and above it
// the delta's sign bit (set: delta = -1). 32 KiB, built once from the grid. (Making 8g + delta per chunk with
// byte adds and a delta vector kept IQ1_M decoding at 0.6-0.7x llama.cpp's speed.)
struct Iq1MCodeTable {
  uint64_t v[4096];
};
const Iq1MCodeTable kIq1MCodes = [] {
  Iq1MCodeTable t{};
  for (uint32_t i = 0; i < 4096; ++i) {
    const uint64_t g = kIq1SGrid[i & 0x7FF];
    const int delta = i & 0x800 ? -1 : 1;
    uint64_t codes = 0;
    for (int k = 0; k < 8; ++k) {
      const int code = 8 * static_cast<int8_t>(g >> (8 * k)) + delta;
      codes |= static_cast<uint64_t>(static_cast<uint8_t>(code)) << (8 * k);
    }
    t.v[i] = codes;
  }
  return t;
}();

// IQ1_S: {d, qs[32], qh[8] u16}; w = d * (2s+1) * (g + delta / 8), g in {-1, 0, 1}, delta = -1 or +1 per 32.
// The codes are the grid's g; 8 (2s+1) is the integer scale, so that d/8 * 8 (2s+1) * sum(g a) is the grid
// term, and the delta term, d/8 * (2s+1) * delta * sum(a), comes from the activations' sums per 16 (bsums) as
// an offset, once per super-block, as llama.cpp does. (Building 8g + delta codes per chunk instead cost a
// third more instructions and kept decoding at 0.74x llama.cpp's speed.)
struct Iq1S {
  static constexpr size_t kBytes = sizeof(BlockIq1S);
  static constexpr Codes kCodes = Codes::kSigned;
  static constexpr bool kHasOff = true;
  using Prep = SuperPrep;
  static R1_AVX2_INLINE void prepare(const uint8_t* b, Prep& p) {
    const __m128i qh = loadu128(b + 34);
    const __m128i ls = odd_scales(_mm_and_si128(_mm_srli_epi16(qh, 12), _mm_set1_epi16(7)));  // 2s + 1
    set_scales32(p, _mm_slli_epi16(ls, 3));
    // offset per 16 = delta * (2s+1), with delta the sign of qh (or-ing 1 keeps _mm_sign_epi16 from zeroing).
    const __m128i off = _mm_sign_epi16(ls, _mm_or_si128(qh, _mm_set1_epi16(1)));
    p.off = _mm256_set_m128i(_mm_unpackhi_epi16(off, off), _mm_unpacklo_epi16(off, off));
    p.d = f16_at(b) * 0.125f;
    p.doff = -p.d;
  }
  static R1_AVX2_INLINE Chunk chunk(const uint8_t* b, const Prep&, int J) {
    const uint8_t* qs = b + 2 + 4 * J;
    const uint32_t qh = u16_at(b + 34 + 2 * J);
    return signed_chunk(_mm256_set_epi64x(
        as_ll(kIq1SGrid[qs[3] | ((qh >> 1) & 0x700)]), as_ll(kIq1SGrid[qs[2] | ((qh << 2) & 0x700)]),
        as_ll(kIq1SGrid[qs[1] | ((qh << 5) & 0x700)]), as_ll(kIq1SGrid[qs[0] | ((qh << 8) & 0x700)])));
  }
};

// IQ1_M: {qs[32], qh[16], scales[8]}; 3-bit scales per 16, a delta sign per 8, fp16 super-scale in the
// scale words' top nibbles.
struct Iq1M {
  static constexpr size_t kBytes = sizeof(BlockIq1M);
  static constexpr Codes kCodes = Codes::kSigned;
  static constexpr bool kHasOff = false;
  using Prep = SuperPrep;
  static R1_AVX2_INLINE void prepare(const uint8_t* b, Prep& p) {
    // Scale i (of 16) is the 3-bit field at bit 3 * (i % 4) of scale word i / 4: each int16 lane gets its word
    // (byte shuffle), a multiply by 2^(13 - 3 * (i % 4)) moves the field to the top bits, a shift brings it down.
    uint64_t words;
    std::memcpy(&words, b + 48, 8);
    const __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi64x(static_cast<long long>(words)),
                                          _mm256_setr_epi8(0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3, 2, 3,
                                                           4, 5, 4, 5, 4, 5, 4, 5, 6, 7, 6, 7, 6, 7, 6, 7));
    const __m256i field = _mm256_srli_epi16(
        _mm256_mullo_epi16(v, _mm256_setr_epi16(1 << 13, 1 << 10, 1 << 7, 1 << 4, 1 << 13, 1 << 10, 1 << 7, 1 << 4,
                                                1 << 13, 1 << 10, 1 << 7, 1 << 4, 1 << 13, 1 << 10, 1 << 7, 1 << 4)),
        13);
    const __m256i s16 = _mm256_add_epi16(_mm256_add_epi16(field, field), _mm256_set1_epi16(1));
    p.sc_lo = _mm256_permute2x128_si256(s16, s16, 0x00);
    p.sc_hi = _mm256_permute2x128_si256(s16, s16, 0x11);
    p.d = iq1_m_super_scale(b + 48) * 0.125f;
    p.doff = 0.0f;
  }
  // Each group of 8 reads its codes 8g + delta from kIq1MCodes in one load: the nibble of qh above its index
  // bits holds the delta's sign right above them.
  static R1_AVX2_INLINE Chunk chunk(const uint8_t* b, const Prep&, int J) {
    const uint8_t* qs = b + 4 * J;
    const uint8_t* qh = b + 32 + 2 * J;
    return signed_chunk(_mm256_set_epi64x(
        as_ll(kIq1MCodes.v[qs[3] | ((qh[1] & 0xF0) << 4)]), as_ll(kIq1MCodes.v[qs[2] | ((qh[1] & 0x0F) << 8)]),
        as_ll(kIq1MCodes.v[qs[1] | ((qh[0] & 0xF0) << 4)]), as_ll(kIq1MCodes.v[qs[0] | ((qh[0] & 0x0F) << 8)])));
  }
};

// IQ2_XS and IQ2_S: 16 scales per super-block as 2s + 1 from the eight bytes at `scales` (two 4-bit s each, low
// nibble first), the multiplier d/8.
R1_AVX2_INLINE void prepare_iq2_nibble_scaled(const uint8_t* b, const uint8_t* scales, SuperPrep& p) {
  const __m128i both = nibbles_in_order(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(scales)));
  p.sc_lo = _mm256_broadcastsi128_si256(odd_scales(_mm_cvtepu8_epi16(both)));
  p.sc_hi = _mm256_broadcastsi128_si256(odd_scales(_mm_cvtepu8_epi16(_mm_srli_si128(both, 8))));
  p.d = f16_at(b) * 0.125f;
  p.doff = 0.0f;
}

// Four explicit sign bytes (bit k of byte l: coordinate 8l + k negative) as 32 bytes of +1 / -1.
R1_AVX2_INLINE __m256i signs_from_bytes(uint32_t four) {
  const __m256i rep = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(four)),
                                          _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                                           2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
  const __m256i bits = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ull));
  return _mm256_or_si256(_mm256_cmpeq_epi8(_mm256_and_si256(rep, bits), bits), _mm256_set1_epi8(1));
}

// IQ2_XS: {d, qs[32] u16, scales[8]}: per 8, a 9-bit grid index and 7 sign bits; 4-bit scales per 16;
// w = d/8 * (2s+1) * grid * sign.
struct Iq2Xs {
  static constexpr size_t kBytes = sizeof(BlockIq2Xs);
  static constexpr Codes kCodes = Codes::kSigned;
  static constexpr bool kHasOff = false;
  using Prep = SuperPrep;
  static R1_AVX2_INLINE void prepare(const uint8_t* b, Prep& p) { prepare_iq2_nibble_scaled(b, b + 66, p); }
  static R1_AVX2_INLINE Chunk chunk(const uint8_t* b, const Prep&, int J) {
    uint16_t q[4];
    std::memcpy(q, b + 2 + 8 * J, 8);
    const __m256i grid = _mm256_set_epi64x(as_ll(kIq2XsGrid[q[3] & 511]), as_ll(kIq2XsGrid[q[2] & 511]),
                                           as_ll(kIq2XsGrid[q[1] & 511]), as_ll(kIq2XsGrid[q[0] & 511]));
    const __m256i signs = _mm256_set_epi64x(as_ll(kSignsEvenBytes.v[q[3] >> 9]), as_ll(kSignsEvenBytes.v[q[2] >> 9]),
                                            as_ll(kSignsEvenBytes.v[q[1] >> 9]), as_ll(kSignsEvenBytes.v[q[0] >> 9]));
    return {grid, signs};
  }
};

// IQ2_S: {d, qs[32] grid index bytes, signs[32], qh[8], scales[8]}: 10-bit grid indexes (two high bits per 8
// in qh), explicit sign bytes, 4-bit scales per 16; w = d/8 * (2s+1) * grid * sign.
struct Iq2S {
  static constexpr size_t kBytes = sizeof(BlockIq2S);
  static constexpr Codes kCodes = Codes::kSigned;
  static constexpr bool kHasOff = false;
  using Prep = SuperPrep;
  static R1_AVX2_INLINE void prepare(const uint8_t* b, Prep& p) { prepare_iq2_nibble_scaled(b, b + 74, p); }
  static R1_AVX2_INLINE Chunk chunk(const uint8_t* b, const Prep&, int J) {
    const uint8_t* qs = b + 2 + 4 * J;
    const uint32_t qh = b[66 + J];
    const __m256i grid = _mm256_set_epi64x(
        as_ll(kIq2SGrid[qs[3] | ((qh << 2) & 0x300)]), as_ll(kIq2SGrid[qs[2] | ((qh << 4) & 0x300)]),
        as_ll(kIq2SGrid[qs[1] | ((qh << 6) & 0x300)]), as_ll(kIq2SGrid[qs[0] | ((qh << 8) & 0x300)]));
    return {grid, signs_from_bytes(u32_at(b + 34 + 4 * J))};
  }
};

// IQ3_XXS: {d, qs[64] grid index bytes, 8 × u32 (4 × 7 sign bits, 4-bit scale s)}: per 8, two 4-coordinate
// grid entries; w = d/4 * (2s+1) * grid * sign, one s per 32.
struct Iq3Xxs {
  static constexpr size_t kBytes = sizeof(BlockIq3Xxs);
  static constexpr Codes kCodes = Codes::kSigned;
  static constexpr bool kHasOff = false;
  using Prep = SuperPrep;
  static R1_AVX2_INLINE void prepare(const uint8_t* b, Prep& p) {
    const __m256i s = _mm256_srli_epi32(loadu256(b + 66), 28);  // the eight scales, one per int32
    set_scales32(p, odd_scales(_mm_packs_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1))));
    p.d = f16_at(b) * 0.25f;
    p.doff = 0.0f;
  }
  static R1_AVX2_INLINE Chunk chunk(const uint8_t* b, const Prep&, int J) {
    const uint8_t* qs = b + 2 + 8 * J;
    const uint32_t aux = u32_at(b + 66 + 4 * J);
    const __m256i grid = _mm256_setr_epi32(
        static_cast<int>(kIq3XxsGrid[qs[0]]), static_cast<int>(kIq3XxsGrid[qs[1]]), static_cast<int>(kIq3XxsGrid[qs[2]]),
        static_cast<int>(kIq3XxsGrid[qs[3]]), static_cast<int>(kIq3XxsGrid[qs[4]]), static_cast<int>(kIq3XxsGrid[qs[5]]),
        static_cast<int>(kIq3XxsGrid[qs[6]]), static_cast<int>(kIq3XxsGrid[qs[7]]));
    return {grid, signs_from_groups7(aux)};
  }
};

// IQ3_S: {d, qs[64], qh[8], signs[32], scales[4]}: 9-bit grid indexes (the ninth bit per index in qh),
// explicit sign bytes, 4-bit scales per 32; w = d * (2s+1) * grid * sign.
struct Iq3S {
  static constexpr size_t kBytes = sizeof(BlockIq3S);
  static constexpr Codes kCodes = Codes::kSigned;
  static constexpr bool kHasOff = false;
  using Prep = SuperPrep;
  static R1_AVX2_INLINE void prepare(const uint8_t* b, Prep& p) {
    uint32_t sc;
    std::memcpy(&sc, b + 106, 4);
    set_scales32(p, odd_scales(_mm_cvtepu8_epi16(nibbles_in_order(_mm_cvtsi32_si128(static_cast<int>(sc))))));
    p.d = f16_at(b);
    p.doff = 0.0f;
  }
  static R1_AVX2_INLINE Chunk chunk(const uint8_t* b, const Prep&, int J) {
    const uint8_t* qs = b + 2 + 8 * J;
    const uint32_t qh = b[66 + J];
    const auto g = [&](int i) { return static_cast<int>(kIq3SGrid[qs[i] | ((qh << (8 - i)) & 256)]); };
    const __m256i grid = _mm256_setr_epi32(g(0), g(1), g(2), g(3), g(4), g(5), g(6), g(7));
    return {grid, signs_from_bytes(u32_at(b + 74 + 4 * J))};
  }
};

}  // namespace

void avx2::register_iquants(KernelTable& t) {
  t.dot[static_cast<size_t>(GgmlType::kIQ2_XXS)] = dot_super<Iq2Xxs>;
  t.dot[static_cast<size_t>(GgmlType::kIQ1_S)] = dot_super<Iq1S>;
  t.dot[static_cast<size_t>(GgmlType::kIQ1_M)] = dot_super<Iq1M>;
  t.dot[static_cast<size_t>(GgmlType::kIQ2_XS)] = dot_super<Iq2Xs>;
  t.dot[static_cast<size_t>(GgmlType::kIQ2_S)] = dot_super<Iq2S>;
  t.dot[static_cast<size_t>(GgmlType::kIQ3_XXS)] = dot_super<Iq3Xxs>;
  t.dot[static_cast<size_t>(GgmlType::kIQ3_S)] = dot_super<Iq3S>;
}

}  // namespace r1::cpu
