// The decode kernels with AVX-512 VNNI: Q4_K, Q6_K and Q8_0 against one to three tokens, eight weight rows at a
// time on the file's layout. The AVX2 one-row kernels spend most of their time on work per row and block that
// is not the products: unpacking the scales, a horizontal sum, a scalar multiply-add, the sign trick. Here
// eight rows share that work, and the products are two instructions per 64 codes: vpmaddubsw (code ×
// activation pairs, int16) and vpdpwssd (× the scale of the codes' sub-block, added into int32), or one
// vpdpbusd for Q8_0.
//
// The K-quants' sums per super-block are exact integers, converted and multiplied-added once per row, in
// super-block order:
// - Q4_K: dot_q4_k_llama_order's bits (ref_matmul.cpp) with one rounding per super-block, the scale and the
//   min sums apart, the min total subtracted at the end, as the AVX2 q4k_row.
// - Q6_K: the codes' total less 32 × the scaled activation sums, rounded once: the bits of the prompt kernels
//   (Q6KRows8Kernel, avx512_kquants_impl.h), so decode and prompt tokens of a Q6_K row now round alike.
// Q8_0 keeps llama.cpp's order (Block32LlamaSum, ref_matmul.h): eight lanes of four products per block, each
// multiplied-added in block order, added in its horizontal order at the end; two rows share a vector.
//
// Native only (the intrinsics are used directly): KernelVsReference runs them on machines with AVX-512 VNNI.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "avx2/avx2_common.h"
#include "avx512_rows16.h"

// GCC 12 warns that the intrinsics' own undefined placeholders "may be used uninitialized" (false positives).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace r1::cpu {
namespace {

constexpr int64_t kQ4KBytes = sizeof(BlockQ4_K);
constexpr int64_t kQ6KBytes = sizeof(BlockQ6_K);
constexpr int64_t kQ8_0WeightBytes = sizeof(BlockQ8_0);

inline __m512i concat256(__m256i lo, __m256i hi) { return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1); }

// The sixteen lanes of v folded to eight (lane i + lane i + 8).
inline __m256i fold(__m512i v) { return _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1)); }

// [sum of u[0], ..., sum of u[7]] (eight int32 lanes each).
inline __m256i sum_each_of_eight(const __m256i u[8]) {
  const __m256i g0 = _mm256_hadd_epi32(_mm256_hadd_epi32(u[0], u[1]), _mm256_hadd_epi32(u[2], u[3]));
  const __m256i g1 = _mm256_hadd_epi32(_mm256_hadd_epi32(u[4], u[5]), _mm256_hadd_epi32(u[6], u[7]));
  return _mm256_add_epi32(_mm256_permute2x128_si256(g0, g1, 0x20), _mm256_permute2x128_si256(g0, g1, 0x31));
}

// The next eight rows, read ahead as one sequential stream (rows are usually contiguous): eight blocks per
// block step covers them by the time this group ends. Without it a group runs at ~60 % of the speed (the
// hardware prefetcher does not follow eight interleaved rows); two or more groups ahead, or into L2 only,
// measured slower on the 1.5B Q4_K_M file (Zen 5).
template <int64_t kBytes>
inline void read_ahead(const uint8_t* w, uint64_t w_stride, int64_t ib) {
  const uint8_t* next = w + 8 * w_stride + static_cast<uint64_t>(ib) * 8 * kBytes;
  for (int64_t l = 0; l < 8 * kBytes; l += 64) _mm_prefetch(reinterpret_cast<const char*>(next + l), _MM_HINT_T0);
}

// The fp16 at byte `offset` of block ib of each of the eight rows, times da.
inline __m256 row_scales(const uint8_t* w, uint64_t w_stride, int64_t ib, int64_t block_bytes, int64_t offset,
                         float da) {
  alignas(16) uint16_t h[8];
  for (int r = 0; r < 8; ++r) h[r] = load_u16(w + r * w_stride + ib * block_bytes + offset);
  return _mm256_mul_ps(_mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(h))), _mm256_set1_ps(da));
}

// int16 lanes: scale byte `first` in the low 256 bits, byte `second` in the high 256 bits (vpshufb indices
// into the eight scale bytes, which set1_epi64 repeats in every 128-bit lane; 0x80 writes a zero byte).
inline __m512i scale_picker(int first, int second) {
  return concat256(_mm256_set1_epi16(static_cast<int16_t>(0x8000 | first)),
                   _mm256_set1_epi16(static_cast<int16_t>(0x8000 | second)));
}

// Q4_K: eight rows (w, w + w_stride, ...) against one Q8_K activation row; y[r] for r < 8.
void q4k_rows8(int64_t nb, const uint8_t* w, uint64_t w_stride, const uint8_t* act, float* y) {
  const __m512i nibble = _mm512_set1_epi8(0x0F);
  // Codes c (of a 64-byte load) pair with sub-blocks (0, 2), (1, 3), (4, 6), (5, 7): low nibbles of qs bytes
  // 0..31 are sub-block 0, high nibbles sub-block 1, and so on in pairs.
  const __m512i pick[4] = {scale_picker(0, 2), scale_picker(1, 3), scale_picker(4, 6), scale_picker(5, 7)};
  const __m256i rows_of_mins = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  __m256 acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();
  for (int64_t ib = 0; ib < nb; ++ib) {
    const uint8_t* ab = act + ib * static_cast<int64_t>(kQ8_KBytes);
    const uint8_t* aq = ab + kQ8_KQsOffset;
    const __m512i a_sub[4] = {concat256(loadu256(aq), loadu256(aq + 64)),
                              concat256(loadu256(aq + 32), loadu256(aq + 96)),
                              concat256(loadu256(aq + 128), loadu256(aq + 192)),
                              concat256(loadu256(aq + 160), loadu256(aq + 224))};
    // The activations' sums per 32 elements as int16 (|sum| <= 32 × 128), in every 128-bit lane.
    const __m256i s32 = _mm256_madd_epi16(loadu256(ab + kQ8_KBsumsOffset), _mm256_set1_epi16(1));
    const __m128i s16 = _mm_packs_epi32(_mm256_castsi256_si128(s32), _mm256_extracti128_si256(s32, 1));
    const __m512i bsum = _mm512_broadcast_i32x4(s16);
    read_ahead<kQ4KBytes>(w, w_stride, ib);

    __m256i isum[8];
    alignas(64) uint64_t mins[8];
    for (int r = 0; r < 8; ++r) {
      const uint8_t* b = w + static_cast<uint64_t>(r) * w_stride + static_cast<uint64_t>(ib) * kQ4KBytes;
      alignas(8) uint8_t sc[8];
      unpack_k4_scales(b + offsetof(BlockQ4_K, scales), sc, reinterpret_cast<uint8_t*>(&mins[r]));
      uint64_t sc64;
      std::memcpy(&sc64, sc, 8);
      const __m512i scales = _mm512_set1_epi64(static_cast<long long>(sc64));
      const uint8_t* qs = b + offsetof(BlockQ4_K, qs);
      const __m512i q0 = _mm512_loadu_si512(qs), q1 = _mm512_loadu_si512(qs + 64);
      const __m512i codes[4] = {_mm512_and_si512(q0, nibble), _mm512_and_si512(_mm512_srli_epi32(q0, 4), nibble),
                                _mm512_and_si512(q1, nibble), _mm512_and_si512(_mm512_srli_epi32(q1, 4), nibble)};
      __m512i s = _mm512_setzero_si512();
      for (int c = 0; c < 4; ++c) {
        s = _mm512_dpwssd_epi32(s, _mm512_maddubs_epi16(codes[c], a_sub[c]), _mm512_shuffle_epi8(scales, pick[c]));
      }
      isum[r] = fold(s);
    }
    // Min sums: each row's eight mins (int16) against the activation sums, four int32 lanes per row.
    const __m512i m = _mm512_load_si512(mins);
    const __m512i z0 = _mm512_madd_epi16(_mm512_cvtepu8_epi16(_mm512_castsi512_si256(m)), bsum);  // rows 0..3
    const __m512i z1 = _mm512_madd_epi16(_mm512_cvtepu8_epi16(_mm512_extracti64x4_epi64(m, 1)), bsum);  // rows 4..7
    const __m256i h02 = _mm256_hadd_epi32(_mm512_castsi512_si256(z0), _mm512_extracti64x4_epi64(z0, 1));
    const __m256i h46 = _mm256_hadd_epi32(_mm512_castsi512_si256(z1), _mm512_extracti64x4_epi64(z1, 1));
    const __m256i imin = _mm256_permutevar8x32_epi32(_mm256_hadd_epi32(h02, h46), rows_of_mins);

    const float da = load_f32(ab);
    const __m256 d = row_scales(w, w_stride, ib, kQ4KBytes, offsetof(BlockQ4_K, d), da);
    const __m256 dmin = row_scales(w, w_stride, ib, kQ4KBytes, offsetof(BlockQ4_K, dmin), da);
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum_each_of_eight(isum)), d, acc);
    accm = _mm256_fmadd_ps(_mm256_cvtepi32_ps(imin), dmin, accm);
  }
  _mm256_storeu_ps(y, _mm256_sub_ps(acc, accm));
}

// int16 lanes: in 128-bit lane L, scale first + L of the sixteen (vpermw indices).
inline __m512i scale_spread(int first) {
  alignas(64) int16_t idx[32];
  for (int i = 0; i < 32; ++i) idx[i] = static_cast<int16_t>(first + i / 8);
  return _mm512_load_si512(idx);
}

// Q6_K: eight rows against one Q8_K activation row; y[r] for r < 8. In each half h of a super-block (128
// elements), ql bytes 64h .. 64h + 63 hold four low bits of elements 128h + [0, 64) (low nibbles) and
// 128h + [64, 128) (high nibbles); qh byte 32h + l holds the top two bits of elements 128h + l + 32k in bits
// 2k, 2k + 1.
void q6k_rows8(int64_t nb, const uint8_t* w, uint64_t w_stride, const uint8_t* act, float* y) {
  const __m512i nibble = _mm512_set1_epi8(0x0F), bits45 = _mm512_set1_epi8(0x30);
  const __m512i spread[4] = {scale_spread(0), scale_spread(4), scale_spread(8), scale_spread(12)};
  __m256 acc = _mm256_setzero_ps();
  for (int64_t ib = 0; ib < nb; ++ib) {
    const uint8_t* ab = act + ib * static_cast<int64_t>(kQ8_KBytes);
    const uint8_t* aq = ab + kQ8_KQsOffset;
    const __m512i a_part[4] = {_mm512_loadu_si512(aq), _mm512_loadu_si512(aq + 64), _mm512_loadu_si512(aq + 128),
                               _mm512_loadu_si512(aq + 192)};
    const __m256i bsums = loadu256(ab + kQ8_KBsumsOffset);
    read_ahead<kQ6KBytes>(w, w_stride, ib);

    __m256i isum[8];
    for (int r = 0; r < 8; ++r) {
      const uint8_t* b = w + static_cast<uint64_t>(r) * w_stride + static_cast<uint64_t>(ib) * kQ6KBytes;
      const __m256i sc16 = _mm256_cvtepi8_epi16(loadu128(b + offsetof(BlockQ6_K, scales)));
      const __m512i sc = _mm512_castsi256_si512(sc16);
      __m512i s = _mm512_setzero_si512();
      for (int h = 0; h < 2; ++h) {
        const __m512i ql = _mm512_loadu_si512(b + offsetof(BlockQ6_K, ql) + 64 * h);
        const __m256i qh = loadu256(b + offsetof(BlockQ6_K, qh) + 32 * h);
        // Top bits of elements [0, 64) of the half at bits 0-1 (first 32) and 2-3 (next 32) of each byte; those
        // of [64, 128) at bits 4-5 and 6-7.
        const __m512i hi = concat256(qh, _mm256_srli_epi16(qh, 2));
        const __m512i low64 =
            _mm512_or_si512(_mm512_and_si512(ql, nibble), _mm512_and_si512(_mm512_slli_epi16(hi, 4), bits45));
        const __m512i high64 =
            _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), nibble), _mm512_and_si512(hi, bits45));
        s = _mm512_dpwssd_epi32(s, _mm512_maddubs_epi16(low64, a_part[2 * h]),
                                _mm512_permutexvar_epi16(spread[2 * h], sc));
        s = _mm512_dpwssd_epi32(s, _mm512_maddubs_epi16(high64, a_part[2 * h + 1]),
                                _mm512_permutexvar_epi16(spread[2 * h + 1], sc));
      }
      // Less 32 × the scaled sums of the activations per 16 (the codes are stored + 32).
      isum[r] = _mm256_sub_epi32(fold(s), _mm256_slli_epi32(_mm256_madd_epi16(sc16, bsums), 5));
    }
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum_each_of_eight(isum)),
                          row_scales(w, w_stride, ib, kQ6KBytes, offsetof(BlockQ6_K, d), load_f32(ab)), acc);
  }
  _mm256_storeu_ps(y, acc);
}

// Q8_0: eight rows against one Q8_0 activation row (nb blocks of 32); y[r] for r < 8. Vector p holds rows 2p
// (lanes 0-7) and 2p + 1 (lanes 8-15), lane i the sum of products 4i .. 4i + 3 of the block. vpdpbusd takes
// unsigned bytes: the codes go in as code + 128 (a flipped sign bit) and each lane starts from -128 × the sum
// of its four activations, so the lane sums are exact.
void q8_0_rows8(int64_t nb, const uint8_t* w, uint64_t w_stride, const uint8_t* act, float* y) {
  const __m512i sign = _mm512_set1_epi8(static_cast<char>(0x80)), ones = _mm512_set1_epi8(1);
  __m512i pair_of[4];
  for (int p = 0; p < 4; ++p) pair_of[p] = concat256(_mm256_set1_epi32(2 * p), _mm256_set1_epi32(2 * p + 1));
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  for (int64_t ib = 0; ib < nb; ++ib) {
    const uint8_t* ab = act + ib * static_cast<int64_t>(kQ8_0Bytes);
    const __m512i a2 = _mm512_broadcast_i64x4(loadu256(ab + 2));
    const __m512i word_sums = _mm512_dpbusd_epi32(_mm512_setzero_si512(), ones, a2);
    const __m512i start = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(word_sums, 7));
    read_ahead<kQ8_0WeightBytes>(w, w_stride, ib);
    const float da = f16_at(ab);
    const __m512 dd = _mm512_castps256_ps512(row_scales(w, w_stride, ib, kQ8_0WeightBytes, 0, da));
    for (int p = 0; p < 4; ++p) {
      const uint8_t* b = w + static_cast<uint64_t>(2 * p) * w_stride + static_cast<uint64_t>(ib) * kQ8_0WeightBytes;
      const uint8_t* qs = b + offsetof(BlockQ8_0, qs);
      const __m512i codes = _mm512_xor_si512(concat256(loadu256(qs), loadu256(qs + w_stride)), sign);
      const __m512 s = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(start, codes, a2));
      acc[p] = _mm512_fmadd_ps(_mm512_permutexvar_ps(pair_of[p], dd), s, acc[p]);
    }
  }
  for (int p = 0; p < 4; ++p) {
    for (int half = 0; half < 2; ++half) {
      const __m256 l = half ? _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc[p]), 1))
                            : _mm512_castps512_ps256(acc[p]);
      y[2 * p + half] = hsum(l);  // ((0 + 4) + (2 + 6)) + ((1 + 5) + (3 + 7)), as the AVX2 kernel
    }
  }
}

using Rows8Fn = void (*)(int64_t nb, const uint8_t* w, uint64_t w_stride, const uint8_t* act, float* y);

// Every token through `rows8`, eight rows at a time; the last n_rows % 8 rows through `rest`.
inline void dot_by_rows8(const DotArgs& a, int64_t block, Rows8Fn rows8, DotFn rest) noexcept {
  const int64_t rows8_end = a.n_rows / 8 * 8;
  const int64_t nb = a.n / block;
  for (int64_t r = 0; r < rows8_end; r += 8) {
    for (int64_t t = 0; t < a.n_tokens; ++t) {
      rows8(nb, a.w + static_cast<uint64_t>(r) * a.w_stride, a.w_stride, a.a + static_cast<uint64_t>(t) * a.a_stride,
            a.y + t * a.y_stride + r);
    }
  }
  if (rows8_end < a.n_rows) rest(rows_from(a, rows8_end));
}

}  // namespace

namespace avx512 {

void dot_q4k_ungrouped(const DotArgs& a, DotFn rest) noexcept {
  if (a.grouped_tokens != 0) {
    rest(a);
    return;
  }
  dot_by_rows8(a, 256, q4k_rows8, rest);
}

void dot_q6k_few_tokens(const DotArgs& a, DotFn rest) noexcept {
  if (a.n_tokens >= 4) {
    rest(a);
    return;
  }
  dot_by_rows8(a, 256, q6k_rows8, rest);
}

void dot_q8_0_few_tokens(const DotArgs& a, DotFn rest) noexcept {
  if (a.n_tokens >= 4) {
    rest(a);
    return;
  }
  dot_by_rows8(a, 32, q8_0_rows8, rest);
}

}  // namespace avx512
}  // namespace r1::cpu
