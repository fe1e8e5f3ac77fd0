// AVX2 kernels for the lattice i-quants: IQ2_XXS, IQ1_S and IQ1_M unpacked with SIMD gathers from the grid
// tables; IQ2_XS, IQ2_S, IQ3_XXS and IQ3_S through their scalar unpackers (SuperFromScalar) for now.
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

// IQ2_XXS: {d, qs[64]}: per 32, four grid index bytes then 4 × 7 sign bits and a 4-bit scale s;
// w = d/8 * (2s+1) * grid * sign.
struct Iq2Xxs {
  static constexpr size_t kBytes = sizeof(BlockIq2Xxs);
  static constexpr Codes kCodes = Codes::kSigned;
  static constexpr bool kHasOff = false;
  using Prep = SuperPrep;
  static R1_AVX2_INLINE void prepare(const uint8_t* b, Prep& p) {
    alignas(16) int16_t sc[8];
    for (int j = 0; j < 8; ++j) sc[j] = static_cast<int16_t>(2 * (u32_at(b + 6 + 8 * j) >> 28) + 1);
    set_scales32(p, _mm_load_si128(reinterpret_cast<const __m128i*>(sc)));
    p.d = f16_at(b) * 0.125f;
    p.doff = 0.0f;
  }
  static R1_AVX2_INLINE Chunk chunk(const uint8_t* b, const Prep&, int J) {
    const uint32_t idx = u32_at(b + 2 + 8 * J), aux = u32_at(b + 6 + 8 * J);
    const __m256i grid = _mm256_set_epi64x(as_ll(kIq2XxsGrid[idx >> 24]), as_ll(kIq2XxsGrid[(idx >> 16) & 255]),
                                           as_ll(kIq2XxsGrid[(idx >> 8) & 255]), as_ll(kIq2XxsGrid[idx & 255]));
    const __m256i signs = _mm256_set_epi64x(
        as_ll(kSignsEvenBytes.v[(aux >> 21) & 127]), as_ll(kSignsEvenBytes.v[(aux >> 14) & 127]),
        as_ll(kSignsEvenBytes.v[(aux >> 7) & 127]), as_ll(kSignsEvenBytes.v[aux & 127]));
    return {grid, signs};
  }
};

// 8 * g + delta for packed int8 g in {-1, 0, 1} (doubling by byte adds: no cross-byte shifts).
R1_AVX2_INLINE __m256i times8_plus(__m256i g, __m256i delta) {
  g = _mm256_add_epi8(g, g);
  g = _mm256_add_epi8(g, g);
  g = _mm256_add_epi8(g, g);
  return _mm256_add_epi8(g, delta);
}

// IQ1_S: {d, qs[32], qh[8] u16}; w = d * (2s+1) * (g + delta), as codes 8g ± 1 times d/8.
struct Iq1S {
  static constexpr size_t kBytes = sizeof(BlockIq1S);
  static constexpr Codes kCodes = Codes::kSigned;
  static constexpr bool kHasOff = false;
  using Prep = SuperPrep;
  static R1_AVX2_INLINE void prepare(const uint8_t* b, Prep& p) {
    alignas(16) int16_t sc[8];
    for (int j = 0; j < 8; ++j) sc[j] = static_cast<int16_t>(2 * ((u16_at(b + 34 + 2 * j) >> 12) & 7) + 1);
    set_scales32(p, _mm_load_si128(reinterpret_cast<const __m128i*>(sc)));
    p.d = f16_at(b) * 0.125f;
    p.doff = 0.0f;
  }
  static R1_AVX2_INLINE Chunk chunk(const uint8_t* b, const Prep&, int J) {
    const uint8_t* qs = b + 2 + 4 * J;
    const uint32_t qh = u16_at(b + 34 + 2 * J);
    const __m256i g = _mm256_set_epi64x(
        as_ll(kIq1SGrid[qs[3] | ((qh >> 1) & 0x700)]), as_ll(kIq1SGrid[qs[2] | ((qh << 2) & 0x700)]),
        as_ll(kIq1SGrid[qs[1] | ((qh << 5) & 0x700)]), as_ll(kIq1SGrid[qs[0] | ((qh << 8) & 0x700)]));
    return signed_chunk(times8_plus(g, _mm256_set1_epi8(qh & 0x8000 ? -1 : 1)));
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
    uint16_t sc[4];
    std::memcpy(sc, b + 48, 8);
    alignas(32) int16_t s16[16];
    for (int j = 0; j < 8; ++j) {
      s16[2 * j] = static_cast<int16_t>(2 * ((sc[j / 2] >> (6 * (j % 2))) & 7) + 1);
      s16[2 * j + 1] = static_cast<int16_t>(2 * ((sc[j / 2] >> (6 * (j % 2) + 3)) & 7) + 1);
    }
    set_scales16(p, s16);
    p.d = iq1_m_super_scale(b + 48) * 0.125f;
    p.doff = 0.0f;
  }
  static R1_AVX2_INLINE Chunk chunk(const uint8_t* b, const Prep&, int J) {
    const uint8_t* qs = b + 4 * J;
    const uint8_t* qh = b + 32 + 2 * J;
    const __m256i g = _mm256_set_epi64x(
        as_ll(kIq1SGrid[qs[3] | ((qh[1] << 4) & 0x700)]), as_ll(kIq1SGrid[qs[2] | ((qh[1] << 8) & 0x700)]),
        as_ll(kIq1SGrid[qs[1] | ((qh[0] << 4) & 0x700)]), as_ll(kIq1SGrid[qs[0] | ((qh[0] << 8) & 0x700)]));
    constexpr long long kMinus = -1, kPlus = 0x0101010101010101;
    const __m256i delta = _mm256_set_epi64x(qh[1] & 0x80 ? kMinus : kPlus, qh[1] & 0x08 ? kMinus : kPlus,
                                            qh[0] & 0x80 ? kMinus : kPlus, qh[0] & 0x08 ? kMinus : kPlus);
    return signed_chunk(times8_plus(g, delta));
  }
};

}  // namespace

void avx2::register_iquants(KernelTable& t) {
  t.dot[static_cast<size_t>(GgmlType::kIQ2_XXS)] = dot_super<Iq2Xxs>;
  t.dot[static_cast<size_t>(GgmlType::kIQ1_S)] = dot_super<Iq1S>;
  t.dot[static_cast<size_t>(GgmlType::kIQ1_M)] = dot_super<Iq1M>;
  t.dot[static_cast<size_t>(GgmlType::kIQ2_XS)] = dot_super<SuperFromScalar<unpack_iq2_xs, sizeof(BlockIq2Xs)>>;
  t.dot[static_cast<size_t>(GgmlType::kIQ2_S)] = dot_super<SuperFromScalar<unpack_iq2_s, sizeof(BlockIq2S)>>;
  t.dot[static_cast<size_t>(GgmlType::kIQ3_XXS)] = dot_super<SuperFromScalar<unpack_iq3_xxs, sizeof(BlockIq3Xxs)>>;
  t.dot[static_cast<size_t>(GgmlType::kIQ3_S)] = dot_super<SuperFromScalar<unpack_iq3_s, sizeof(BlockIq3S)>>;
}

}  // namespace r1::cpu
