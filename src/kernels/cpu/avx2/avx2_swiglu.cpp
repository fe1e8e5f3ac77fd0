// AVX2 SwiGLU, out = gate / (1 + e^-gate) * up, with an exponential of its own in place of libm's expf (which,
// called per element, was about 5 % of a 1.5B model's prompt time). Not bit-identical to swiglu_ref: within a
// few units in the last place (kernels_test bounds it), as llama.cpp's SIMD SiLU is against its scalar one.
#include "avx2_common.h"
#include "ref_ops.h"

namespace r1::cpu {
namespace {

// e^v for v in [-87.3, 88.3] (clamped): v = n ln2 + r with |r| <= ln2 / 2 (ln2 split in two so n ln2 is exact
// enough), e^r by its Taylor polynomial to r^7 / 5040 (relative error under 2e-8 on that range), times 2^n
// built in the exponent bits.
R1_AVX2_INLINE __m256 exp_ps(__m256 v) {
  v = _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.3f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(v, _mm256_set1_ps(1.44269504f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145752f), v);  // ln2 high part: 12 significant bits
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.42860677e-6f), r);        // ln2 - high part
  __m256 p = _mm256_set1_ps(1.0f / 5040);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  const __m256i pow2n = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(pow2n));
}

void swiglu_avx2(const float* gate, const float* up, float* out, int64_t n) noexcept {
  const __m256 one = _mm256_set1_ps(1.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i);
    const __m256 e = exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), g));
    _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(one, e)), _mm256_loadu_ps(up + i)));
  }
  swiglu_ref(gate + i, up + i, out + i, n - i);  // the last n % 8
}

}  // namespace

void avx2::register_swiglu(KernelTable& t) { t.swiglu = swiglu_avx2; }

}  // namespace r1::cpu
