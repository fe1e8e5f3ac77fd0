// Q4_K against tokens that are not grouped (decode, and calls of one to three tokens) with AVX-512 VNNI,
// eight weight rows at a time on the file's layout. The AVX2 one-row kernel spends most of its time on work
// per row and super-block that is not the products: unpacking the scales, a horizontal sum, a scalar
// multiply-add. Here the eight rows share that work, and the products are two instructions per 64 codes:
// vpmaddubsw (code × activation pairs, int16) and vpdpwssd (× the sub-block's scale, added into int32).
//
// The bits are dot_q4_k_llama_order's (ref_matmul.cpp) with one rounding per super-block: the scale and the
// min sums of a super-block are exact integers, each converted and multiplied-added once, in super-block
// order, then the min total is subtracted, as the AVX2 q4k_row does.
//
// Native only (the intrinsics are used directly): KernelVsReference runs it on machines with AVX-512 VNNI.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "cpu_kernel_table.h"
#include "cpu_unpack.h"

// GCC 12 warns that the intrinsics' own undefined placeholders "may be used uninitialized" (false positives).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace r1::cpu {
namespace {

constexpr int64_t kBlockBytes = 144;  // sizeof(BlockQ4_K): d, dmin (fp16), scales[12], qs[128]

inline __m512i concat256(const uint8_t* lo, const uint8_t* hi) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(lo))),
                            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(hi)), 1);
}

// int16 lanes: scale byte `first` in the low 256 bits, byte `second` in the high 256 bits (vpshufb indices
// into the eight scale bytes, which set1_epi64 repeats in every 128-bit lane; 0x80 writes a zero byte).
inline __m512i scale_picker(int first, int second) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi16(static_cast<int16_t>(0x8000 | first))),
                            _mm256_set1_epi16(static_cast<int16_t>(0x8000 | second)), 1);
}

// [sum of v[0], ..., sum of v[7]] (sixteen int32 lanes each).
inline __m256i sum_each_of_eight(const __m512i v[8]) {
  __m256i u[8];
  for (int r = 0; r < 8; ++r) u[r] = _mm256_add_epi32(_mm512_castsi512_si256(v[r]), _mm512_extracti64x4_epi64(v[r], 1));
  const __m256i g0 = _mm256_hadd_epi32(_mm256_hadd_epi32(u[0], u[1]), _mm256_hadd_epi32(u[2], u[3]));
  const __m256i g1 = _mm256_hadd_epi32(_mm256_hadd_epi32(u[4], u[5]), _mm256_hadd_epi32(u[6], u[7]));
  return _mm256_add_epi32(_mm256_permute2x128_si256(g0, g1, 0x20), _mm256_permute2x128_si256(g0, g1, 0x31));
}

// Eight rows (w, w + w_stride, ...) against one Q8_K activation row; y[r] for r < 8.
void rows8(int64_t nb, const uint8_t* w, uint64_t w_stride, const uint8_t* act, float* y) {
  const __m512i nibble = _mm512_set1_epi8(0x0F);
  // Codes c (of a 64-byte load) pair with sub-blocks (0, 2), (1, 3), (4, 6), (5, 7): low nibbles of qs bytes
  // 0..31 are sub-block 0, high nibbles sub-block 1, and so on in pairs.
  const __m512i pick[4] = {scale_picker(0, 2), scale_picker(1, 3), scale_picker(4, 6), scale_picker(5, 7)};
  const __m256i rows_of_mins = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  __m256 acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();
  for (int64_t ib = 0; ib < nb; ++ib) {
    const uint8_t* ab = act + ib * static_cast<int64_t>(kQ8_KBytes);
    const uint8_t* aq = ab + kQ8_KQsOffset;
    const __m512i a_sub[4] = {concat256(aq, aq + 64), concat256(aq + 32, aq + 96), concat256(aq + 128, aq + 192),
                              concat256(aq + 160, aq + 224)};
    // The activations' sums per 32 elements as int16 (|sum| <= 32 × 128), in every 128-bit lane.
    const __m256i s32 = _mm256_madd_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(ab + kQ8_KBsumsOffset)),
                                          _mm256_set1_epi16(1));
    const __m128i s16 = _mm_packs_epi32(_mm256_castsi256_si128(s32), _mm256_extracti128_si256(s32, 1));
    const __m512i bsum = _mm512_broadcast_i32x4(s16);

    // The next eight rows, read ahead as one sequential stream (rows are usually contiguous): 8 × 144 bytes
    // per block step covers them by the time this group ends. Without it the group runs at ~60 % of the speed
    // (the hardware prefetcher does not follow eight interleaved rows); two or more groups ahead, or into L2
    // only, measured slower on the 1.5B Q4_K_M file (Zen 5).
    const uint8_t* next = w + 8 * w_stride + static_cast<uint64_t>(ib) * 8 * kBlockBytes;
    for (int64_t l = 0; l < 8 * kBlockBytes; l += 64) _mm_prefetch(reinterpret_cast<const char*>(next + l), _MM_HINT_T0);

    __m512i isum[8];
    alignas(64) uint64_t mins[8];
    alignas(32) uint32_t heads[8];
    for (int r = 0; r < 8; ++r) {
      const uint8_t* b = w + static_cast<uint64_t>(r) * w_stride + static_cast<uint64_t>(ib) * kBlockBytes;
      heads[r] = load_u32(b);
      alignas(8) uint8_t sc[8];
      unpack_k4_scales(b + 4, sc, reinterpret_cast<uint8_t*>(&mins[r]));
      uint64_t sc64;
      std::memcpy(&sc64, sc, 8);
      const __m512i scales = _mm512_set1_epi64(static_cast<long long>(sc64));
      const __m512i q0 = _mm512_loadu_si512(b + 16), q1 = _mm512_loadu_si512(b + 80);
      const __m512i codes[4] = {_mm512_and_si512(q0, nibble), _mm512_and_si512(_mm512_srli_epi32(q0, 4), nibble),
                                _mm512_and_si512(q1, nibble), _mm512_and_si512(_mm512_srli_epi32(q1, 4), nibble)};
      __m512i s = _mm512_setzero_si512();
      for (int c = 0; c < 4; ++c) {
        s = _mm512_dpwssd_epi32(s, _mm512_maddubs_epi16(codes[c], a_sub[c]), _mm512_shuffle_epi8(scales, pick[c]));
      }
      isum[r] = s;
    }
    // Min sums: each row's eight mins (int16) against the activation sums, four int32 lanes per row.
    const __m512i m = _mm512_load_si512(mins);
    const __m512i z0 = _mm512_madd_epi16(_mm512_cvtepu8_epi16(_mm512_castsi512_si256(m)), bsum);  // rows 0..3
    const __m512i z1 = _mm512_madd_epi16(_mm512_cvtepu8_epi16(_mm512_extracti64x4_epi64(m, 1)), bsum);  // rows 4..7
    const __m256i h02 = _mm256_hadd_epi32(_mm512_castsi512_si256(z0), _mm512_extracti64x4_epi64(z0, 1));
    const __m256i h46 = _mm256_hadd_epi32(_mm512_castsi512_si256(z1), _mm512_extracti64x4_epi64(z1, 1));
    const __m256i imin = _mm256_permutevar8x32_epi32(_mm256_hadd_epi32(h02, h46), rows_of_mins);

    const __m256i hv = _mm256_load_si256(reinterpret_cast<const __m256i*>(heads));
    const __m256 da = _mm256_set1_ps(load_f32(ab));
    const __m256 d = _mm256_mul_ps(_mm256_cvtph_ps(_mm256_cvtepi32_epi16(hv)), da);
    const __m256 dmin = _mm256_mul_ps(_mm256_cvtph_ps(_mm256_cvtepi32_epi16(_mm256_srli_epi32(hv, 16))), da);
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum_each_of_eight(isum)), d, acc);
    accm = _mm256_fmadd_ps(_mm256_cvtepi32_ps(imin), dmin, accm);
  }
  _mm256_storeu_ps(y, _mm256_sub_ps(acc, accm));
}

}  // namespace

namespace avx512 {

void dot_q4k_ungrouped(const DotArgs& a, DotFn rest) noexcept {
  const int64_t rows8_end = a.n_rows / 8 * 8;
  if (a.grouped_tokens != 0 || rows8_end == 0) {
    rest(a);
    return;
  }
  const int64_t nb = a.n / 256;
  for (int64_t r = 0; r < rows8_end; r += 8) {
    for (int64_t t = 0; t < a.n_tokens; ++t) {
      rows8(nb, a.w + static_cast<uint64_t>(r) * a.w_stride, a.w_stride, a.a + static_cast<uint64_t>(t) * a.a_stride,
            a.y + t * a.y_stride + r);
    }
  }
  if (rows8_end < a.n_rows) {
    DotArgs tail = a;
    tail.w = a.w + static_cast<uint64_t>(rows8_end) * a.w_stride;
    tail.n_rows = a.n_rows - rows8_end;
    tail.y = a.y + rows8_end;
    rest(tail);
  }
}

}  // namespace avx512
}  // namespace r1::cpu
