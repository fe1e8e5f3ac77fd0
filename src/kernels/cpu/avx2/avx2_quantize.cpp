// AVX2 quantization of activation rows, bit for bit the scalar versions. Q8_K (quantize_q8_k, quant_k.cpp):
// the same first element of largest magnitude, the same scale, the same two roundings per value (a product,
// then nearest_int's add of 1.5 * 2^23), and the sums per 16; it runs before every K-quant and i-quant matrix
// product (the scalar loop was about 3 % of a 1.5B model's prompt time). Q8_0
// (quantize_row_q8_0_activations, quant_dispatch.cpp), before every Q8_0/Q4_0/Q5_0/IQ4_NL product (4.7 % of a
// Q8_0 prompt): the largest magnitude per 32, the scale as fp16, each value times 127/amax rounded to nearest
// even; Q8_1 (Q4_1/Q5_1 products) the same plus the scaled sum of the codes.
#include "avx2_common.h"

namespace r1::cpu {
namespace {

// The largest of eight floats (no NaN among them: the callers' running maxima pass NaNs over).
R1_AVX2_INLINE float hmax(__m256 v) {
  __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
  return _mm_cvtss_f32(m4);
}

void quantize_q8_k_avx2(const float* x, uint8_t* dst, int64_t n) noexcept {
  const __m256 sign_bit = _mm256_set1_ps(-0.0f);
  for (int64_t ib = 0; ib < n / 256; ++ib, x += 256, dst += kQ8_KBytes) {
    // Largest magnitude, then the first element that has it (the scalar loop keeps the first on ties).
    __m256 amax8 = _mm256_setzero_ps();
    // max(|x|, running): a NaN |x| leaves the running value, as the scalar loop's > comparison ignores it.
    for (int j = 0; j < 256; j += 8) amax8 = _mm256_max_ps(_mm256_andnot_ps(sign_bit, _mm256_loadu_ps(x + j)), amax8);
    const float amax = hmax(amax8);
    if (amax == 0.0f) {  // also the scalar loop's answer: an all-zero block
      std::memset(dst, 0, kQ8_KBytes);
      continue;
    }
    float max = 0.0f;
    const __m256 amax_b = _mm256_set1_ps(amax);
    for (int j = 0; j < 256; j += 8) {
      const __m256 v = _mm256_loadu_ps(x + j);
      const int hit = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_andnot_ps(sign_bit, v), amax_b, _CMP_EQ_OQ));
      if (hit != 0) {
        max = x[j + __builtin_ctz(static_cast<unsigned>(hit))];
        break;
      }
    }
    const float iscale = -127.f / max;
    const __m256 scale = _mm256_set1_ps(iscale);
    const __m256 magic = _mm256_set1_ps(12582912.f);
    const __m256i mantissa = _mm256_set1_epi32(0x007fffff), bias = _mm256_set1_epi32(0x00400000);
    const __m256i top = _mm256_set1_epi32(127);
    int8_t* qs = reinterpret_cast<int8_t*>(dst + 4);
    for (int j = 0; j < 256; j += 32) {
      __m256i q[4];
      for (int k = 0; k < 4; ++k) {
        const __m256 shifted = _mm256_add_ps(_mm256_mul_ps(scale, _mm256_loadu_ps(x + j + 8 * k)), magic);
        q[k] = _mm256_min_epi32(_mm256_sub_epi32(_mm256_and_si256(_mm256_castps_si256(shifted), mantissa), bias), top);
      }
      // int32 → int16 → int8 packs work per 128-bit lane; the permute puts the 32 bytes back in order.
      const __m256i w = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs + j),
                          _mm256_permutevar8x32_epi32(w, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
    }
    // Sums per 16: |sad| of the bytes offset by 128 sums eight of them at a time.
    int16_t bsums[16];
    for (int j = 0; j < 256; j += 32) {
      const __m256i b = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + j)), _mm256_set1_epi8(-128));
      const __m256i s = _mm256_sad_epu8(b, _mm256_setzero_si256());  // four sums of eight, each + 8 * 128
      alignas(32) uint64_t e[4];
      _mm256_store_si256(reinterpret_cast<__m256i*>(e), s);
      bsums[j / 16] = static_cast<int16_t>(static_cast<int>(e[0] + e[1]) - 16 * 128);
      bsums[j / 16 + 1] = static_cast<int16_t>(static_cast<int>(e[2] + e[3]) - 16 * 128);
    }
    std::memcpy(dst + kQ8_KBsumsOffset, bsums, sizeof bsums);
    const float d = 1 / iscale;
    std::memcpy(dst, &d, 4);
  }
}

// One block of 32 values as the scalar loops quantize it: the largest magnitude (a NaN passed over, as by
// std::max), each value times 127/amax rounded to nearest even, the 32 bytes in order in *bytes. Returns amax.
R1_AVX2_INLINE float quantize_block32(const float* x, __m256i* bytes) {
  const __m256 sign_bit = _mm256_set1_ps(-0.0f);
  // Byte 0 of each int32 lane to bytes 4k .. 4k + 3 of its 128-bit lane (the rest zero): the low byte, as the
  // scalar loop's conversion to int8 keeps it (0 for a NaN's 0x80000000, where a saturating pack gives -128).
  static constexpr auto kPick = [] {
    struct Masks {
      alignas(32) int8_t m[4][32];
    } t{};
    for (int k = 0; k < 4; ++k) {
      for (int i = 0; i < 32; ++i) t.m[k][i] = -1;
      for (int half = 0; half < 2; ++half) {
        for (int e = 0; e < 4; ++e) t.m[k][16 * half + 4 * k + e] = static_cast<int8_t>(4 * e);
      }
    }
    return t;
  }();
  __m256 v[4];
  __m256 amax8 = _mm256_setzero_ps();
  for (int k = 0; k < 4; ++k) {
    v[k] = _mm256_loadu_ps(x + 8 * k);
    amax8 = _mm256_max_ps(_mm256_andnot_ps(sign_bit, v[k]), amax8);  // a NaN |x| leaves the running value
  }
  const float amax = hmax(amax8);
  const __m256 id = _mm256_set1_ps(amax != 0.0f ? 127.f / amax : 0.0f);
  __m256i packed = _mm256_setzero_si256();
  for (int k = 0; k < 4; ++k) {
    const __m256 r = _mm256_round_ps(_mm256_mul_ps(v[k], id), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256i pick = _mm256_load_si256(reinterpret_cast<const __m256i*>(kPick.m[k]));
    packed = _mm256_or_si256(packed, _mm256_shuffle_epi8(_mm256_cvtps_epi32(r), pick));
  }
  // Lane 0 now holds values 0-3, 8-11, 16-19, 24-27 and lane 1 the others: put the words back in order.
  *bytes = _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  return amax;
}

// F16C's conversion: fp32_to_fp16's rounding (nearest even, quiet NaNs), without calling its inline copy from
// this AVX2 object (see cpu_unpack.h).
R1_AVX2_INLINE void store_fp16(uint8_t* dst, float f) {
  const uint16_t h = _cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT);
  std::memcpy(dst, &h, 2);
}

void quantize_q8_0_avx2(const float* x, uint8_t* dst, int64_t n) noexcept {
  for (int64_t ib = 0; ib < n / 32; ++ib, x += 32, dst += kQ8_0Bytes) {
    __m256i bytes;
    const float amax = quantize_block32(x, &bytes);
    store_fp16(dst, amax / 127.f);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 2), bytes);
  }
}

// Q8_1 adds the sum of the codes times the unrounded scale (as llama.cpp's AVX2 path), for Q4_1/Q5_1's offsets.
void quantize_q8_1_avx2(const float* x, uint8_t* dst, int64_t n) noexcept {
  for (int64_t ib = 0; ib < n / 32; ++ib, x += 32, dst += kQ8_1Bytes) {
    __m256i bytes;
    const float d = quantize_block32(x, &bytes) / 127.f;
    const __m256i pairs = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), bytes), _mm256_set1_epi16(1));
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(pairs), _mm256_extracti128_si256(pairs, 1));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4E));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xB1));
    store_fp16(dst, d);
    store_fp16(dst + 2, d * static_cast<float>(_mm_cvtsi128_si32(s4)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 4), bytes);
  }
}

}  // namespace

void avx2::register_quantize(KernelTable& t) {
  t.quantize_q8_k = quantize_q8_k_avx2;
  t.quantize_q8_0 = quantize_q8_0_avx2;
  t.quantize_q8_1 = quantize_q8_1_avx2;
}

}  // namespace r1::cpu
