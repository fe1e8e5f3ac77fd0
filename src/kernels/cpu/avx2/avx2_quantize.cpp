// AVX2 quantization of activation rows to Q8_K, bit for bit the scalar quantize_q8_k (src/quant/quant_k.cpp):
// the same first element of largest magnitude, the same scale, the same two roundings per value (a product,
// then nearest_int's add of 1.5 * 2^23), and the sums per 16. It runs before every K-quant and i-quant matrix
// product; the scalar loop was about 3 % of a 1.5B model's prompt time.
#include "avx2_common.h"

namespace r1::cpu {
namespace {

void quantize_q8_k_avx2(const float* x, uint8_t* dst, int64_t n) noexcept {
  const __m256 sign_bit = _mm256_set1_ps(-0.0f);
  for (int64_t ib = 0; ib < n / 256; ++ib, x += 256, dst += kQ8_KBytes) {
    // Largest magnitude, then the first element that has it (the scalar loop keeps the first on ties).
    __m256 amax8 = _mm256_setzero_ps();
    // max(|x|, running): a NaN |x| leaves the running value, as the scalar loop's > comparison ignores it.
    for (int j = 0; j < 256; j += 8) amax8 = _mm256_max_ps(_mm256_andnot_ps(sign_bit, _mm256_loadu_ps(x + j)), amax8);
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(amax8), _mm256_extractf128_ps(amax8, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    const float amax = _mm_cvtss_f32(m4);
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

}  // namespace

void avx2::register_quantize(KernelTable& t) { t.quantize_q8_k = quantize_q8_k_avx2; }

}  // namespace r1::cpu
