// AVX2 kernels for the 32-element formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL) and the float rows
// (F32, F16, BF16). The loops are block32_tile / float_tile in avx2_common.h; decode formulas:
// src/quant/quant_legacy.cpp, quant_iq4.cpp.
#include "avx2_common.h"

namespace r1::cpu {
namespace {

// 32 nibbles of 16 bytes: byte j holds element j (low nibble) and j + 16 (high nibble).
R1_AVX2_INLINE __m256i nibbles32(const uint8_t* qs) {
  const __m128i q = loadu128(qs);
  const __m128i m = _mm_set1_epi8(0x0F);
  return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), m), _mm_and_si128(q, m));
}

// 32 bits to 32 bytes: 0xFF where bit j of qh is set.
R1_AVX2_INLINE __m256i bits_to_bytes(const uint8_t* qh) {
  uint32_t bits;
  std::memcpy(&bits, qh, 4);
  const __m256i spread = _mm256_shuffle_epi8(
      _mm256_set1_epi32(static_cast<int>(bits)),
      _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0x0000000000000000));
  const __m256i bit = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ULL));
  return _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
}

struct Q4_0 {
  static constexpr size_t kBytes = sizeof(BlockQ4_0);
  static constexpr Codes kCodes = Codes::kSigned;
  static constexpr bool kQ8_1 = false;
  static R1_AVX2_INLINE void load(const uint8_t* b, Chunk& c, float& d, float& m) {
    c = signed_chunk(_mm256_sub_epi8(nibbles32(b + 2), _mm256_set1_epi8(8)));
    d = f16_at(b);
    m = 0.0f;
  }
};
struct Q4_1 {
  static constexpr size_t kBytes = sizeof(BlockQ4_1);
  static constexpr Codes kCodes = Codes::kUnsigned;
  static constexpr bool kQ8_1 = true;
  static R1_AVX2_INLINE void load(const uint8_t* b, Chunk& c, float& d, float& m) {
    c = unsigned_chunk(nibbles32(b + 4));
    d = f16_at(b);
    m = f16_at(b + 2);
  }
};
// Q5_0: q - 16 = nibble | 0xF0 (as int8) where the fifth bit is clear, the nibble + 16 - 16 where it is set.
struct Q5_0 {
  static constexpr size_t kBytes = sizeof(BlockQ5_0);
  static constexpr Codes kCodes = Codes::kSigned;
  static constexpr bool kQ8_1 = false;
  static R1_AVX2_INLINE void load(const uint8_t* b, Chunk& c, float& d, float& m) {
    const __m256i high = _mm256_andnot_si256(bits_to_bytes(b + 2), _mm256_set1_epi8(static_cast<char>(0xF0)));
    c = signed_chunk(_mm256_or_si256(nibbles32(b + 6), high));
    d = f16_at(b);
    m = 0.0f;
  }
};
struct Q5_1 {
  static constexpr size_t kBytes = sizeof(BlockQ5_1);
  static constexpr Codes kCodes = Codes::kUnsigned;
  static constexpr bool kQ8_1 = true;
  static R1_AVX2_INLINE void load(const uint8_t* b, Chunk& c, float& d, float& m) {
    const __m256i high = _mm256_and_si256(bits_to_bytes(b + 4), _mm256_set1_epi8(0x10));
    c = unsigned_chunk(_mm256_or_si256(nibbles32(b + 8), high));
    d = f16_at(b);
    m = f16_at(b + 2);
  }
};
struct Q8_0 {
  static constexpr size_t kBytes = sizeof(BlockQ8_0);
  static constexpr Codes kCodes = Codes::kSigned;
  static constexpr bool kQ8_1 = false;
  static R1_AVX2_INLINE void load(const uint8_t* b, Chunk& c, float& d, float& m) {
    c = signed_chunk(loadu256(b + 2));
    d = f16_at(b);
    m = 0.0f;
  }
};
struct Iq4Nl {
  static constexpr size_t kBytes = sizeof(BlockIq4Nl);
  static constexpr Codes kCodes = Codes::kSigned;
  static constexpr bool kQ8_1 = false;
  static R1_AVX2_INLINE void load(const uint8_t* b, Chunk& c, float& d, float& m) {
    const __m256i values = _mm256_broadcastsi128_si256(loadu128(kIq4Values.v));
    c = signed_chunk(_mm256_shuffle_epi8(values, nibbles32(b + 2)));
    d = f16_at(b);
    m = 0.0f;
  }
};

}  // namespace

void avx2::register_legacy(KernelTable& t) {
  t.dot[static_cast<size_t>(GgmlType::kQ4_0)] = dot_block32<Q4_0>;
  t.dot[static_cast<size_t>(GgmlType::kQ4_1)] = dot_block32<Q4_1>;
  t.dot[static_cast<size_t>(GgmlType::kQ5_0)] = dot_block32<Q5_0>;
  t.dot[static_cast<size_t>(GgmlType::kQ5_1)] = dot_block32<Q5_1>;
  t.dot[static_cast<size_t>(GgmlType::kQ8_0)] = dot_block32<Q8_0>;
  t.dot[static_cast<size_t>(GgmlType::kIQ4_NL)] = dot_block32<Iq4Nl>;
  t.dot[static_cast<size_t>(GgmlType::kF32)] = dot_float<GgmlType::kF32>;
  t.dot[static_cast<size_t>(GgmlType::kF16)] = dot_float<GgmlType::kF16>;
  t.dot[static_cast<size_t>(GgmlType::kBF16)] = dot_float<GgmlType::kBF16>;
}

}  // namespace r1::cpu
