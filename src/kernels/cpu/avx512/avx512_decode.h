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
// Written in avx512_vec.h's operations, so the tests also run these loops emulated; included by the prompt
// kernels' files, which hand them the calls of few tokens (rest_of, avx512_rows16.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "avx512_rows16.h"

namespace r1::cpu {
namespace {
namespace decode8 {

using namespace v512;

constexpr int64_t kQ4KBytes = sizeof(BlockQ4_K);
constexpr int64_t kQ6KBytes = sizeof(BlockQ6_K);
constexpr int64_t kQ8_0WeightBytes = sizeof(BlockQ8_0);

// The next eight rows, read ahead as one sequential stream (rows are usually contiguous): eight blocks per
// block step covers them by the time this group ends. Without it a group runs at ~60 % of the speed (the
// hardware prefetcher does not follow eight interleaved rows); two or more groups ahead, or into L2 only,
// measured slower on the 1.5B Q4_K_M file (Zen 5).
template <int64_t kBytes>
inline void read_ahead(const uint8_t* w, uint64_t w_stride, int64_t ib) {
  const uint8_t* next = w + 8 * w_stride + static_cast<uint64_t>(ib) * 8 * kBytes;
  for (int64_t l = 0; l < 8 * kBytes; l += 64) __builtin_prefetch(next + l, 0, 3);
}

// h[r]: the fp16 at byte `offset` of block ib of row r, for the eight rows.
inline void row_halves(const uint8_t* w, uint64_t w_stride, int64_t ib, int64_t block_bytes, int64_t offset,
                       uint16_t h[8]) {
  for (int r = 0; r < 8; ++r) h[r] = load_u16(w + r * w_stride + ib * block_bytes + offset);
}

// Lanes 0..7: the eight rows' fp16 scales at byte `offset` of block ib, times da; zero above. (Eight halves
// only: a vector built from sixteen went through the stack, and its load waited on the stores, 15 % of Q8_0's
// decode speed.)
inline F512 row_scales(const uint8_t* w, uint64_t w_stride, int64_t ib, int64_t block_bytes, int64_t offset,
                       float da) {
  alignas(16) uint16_t h[8];
  row_halves(w, w_stride, ib, block_bytes, offset, h);
  return mul_f(load_halves8_f(h), set1_f(da));
}

// The same with lanes 8..15 from byte `offset2`.
inline F512 row_scales2(const uint8_t* w, uint64_t w_stride, int64_t ib, int64_t block_bytes, int64_t offset,
                        int64_t offset2, float da) {
  alignas(32) uint16_t h[16];
  row_halves(w, w_stride, ib, block_bytes, offset, h);
  row_halves(w, w_stride, ib, block_bytes, offset2, h + 8);
  return mul_f(load_halves_f(h), set1_f(da));
}

// int16 lanes: scale byte `first` in the low 256 bits, byte `second` in the high 256 bits (vpshufb indices
// into the eight scale bytes, which set1_i64 repeats in every 128-bit lane; 0x80 writes a zero byte).
inline I512 scale_picker(int first, int second) {
  alignas(64) uint16_t idx[32];
  for (int i = 0; i < 32; ++i) idx[i] = static_cast<uint16_t>(0x8000 | (i < 16 ? first : second));
  return load_i(idx);
}

// Q4_K: eight rows (w, w + w_stride, ...) against one Q8_K activation row; y[r] for r < 8.
inline void q4k_rows8(int64_t nb, const uint8_t* w, uint64_t w_stride, const uint8_t* act, float* y) {
  const I512 nibble = set1_i(0x0F0F0F0F);
  // Codes c (of a 64-byte load) pair with sub-blocks (0, 2), (1, 3), (4, 6), (5, 7): low nibbles of qs bytes
  // 0..31 are sub-block 0, high nibbles sub-block 1, and so on in pairs.
  const I512 pick[4] = {scale_picker(0, 2), scale_picker(1, 3), scale_picker(4, 6), scale_picker(5, 7)};
  // Each sub-block's min (of 32 elements) as int16 lanes 2j, 2j + 1 (j < 8), beside the activations' two sums
  // per 16 elements of that sub-block; zero above 256 bits.
  const I512 min_of_sum = [] {
    alignas(64) uint16_t idx[32];
    for (int k = 0; k < 32; ++k) idx[k] = static_cast<uint16_t>(k < 16 ? 0x8000 | (k / 2) : 0x8080);
    return load_i(idx);
  }();
  F512 acc = zero_f();  // lanes 0..7: each row's scaled sums; lanes 8..15: its min sums
  for (int64_t ib = 0; ib < nb; ++ib) {
    const uint8_t* ab = act + ib * static_cast<int64_t>(kQ8_KBytes);
    const uint8_t* aq = ab + kQ8_KQsOffset;
    const I512 a_sub[4] = {loadu_2x256(aq, aq + 64), loadu_2x256(aq + 32, aq + 96), loadu_2x256(aq + 128, aq + 192),
                           loadu_2x256(aq + 160, aq + 224)};
    const I512 bsum = bcast256(ab + kQ8_KBsumsOffset);  // the sixteen int16 sums per 16 activations, twice
    read_ahead<kQ4KBytes>(w, w_stride, ib);

    I512 sums[16];  // the rows' scaled code sums, then their min sums
    for (int r = 0; r < 8; ++r) {
      const uint8_t* b = w + static_cast<uint64_t>(r) * w_stride + static_cast<uint64_t>(ib) * kQ4KBytes;
      alignas(8) uint8_t sc[8], mn[8];
      unpack_k4_scales(b + offsetof(BlockQ4_K, scales), sc, mn);
      uint64_t sc64;
      std::memcpy(&sc64, sc, 8);
      const I512 scales = set1_i64(sc64);
      const uint8_t* qs = b + offsetof(BlockQ4_K, qs);
      const I512 q0 = loadu_i(qs), q1 = loadu_i(qs + 64);
      const I512 codes[4] = {and_i(q0, nibble), and_i(srli_i<4>(q0), nibble), and_i(q1, nibble),
                             and_i(srli_i<4>(q1), nibble)};
      I512 s = zero_i();
      for (int c = 0; c < 4; ++c) s = dpwssd(s, maddubs(codes[c], a_sub[c]), shuffle_bytes(scales, pick[c]));
      sums[r] = s;
      uint64_t mn64;
      std::memcpy(&mn64, mn, 8);
      sums[8 + r] = madd16(shuffle_bytes(set1_i64(mn64), min_of_sum), bsum);
    }
    const F512 d = row_scales2(w, w_stride, ib, kQ4KBytes, offsetof(BlockQ4_K, d), offsetof(BlockQ4_K, dmin),
                               load_f32(ab));
    acc = fmadd_f(cvt_f(lane_sums<16>(sums)), d, acc);
  }
  alignas(64) float out[16];
  store_f(out, acc);
  for (int r = 0; r < 8; ++r) y[r] = out[r] - out[8 + r];
}

// int16 lanes: in 128-bit lane L, scale first + L of the sixteen (vpermw indices).
inline I512 scale_spread(int first) {
  alignas(64) int16_t idx[32];
  for (int i = 0; i < 32; ++i) idx[i] = static_cast<int16_t>(first + i / 8);
  return load_i(idx);
}

// Q6_K: eight rows against one Q8_K activation row; y[r] for r < 8. In each half h of a super-block (128
// elements), ql bytes 64h .. 64h + 63 hold four low bits of elements 128h + [0, 64) (low nibbles) and
// 128h + [64, 128) (high nibbles); qh byte 32h + l holds the top two bits of elements 128h + l + 32k in bits
// 2k, 2k + 1.
inline void q6k_rows8(int64_t nb, const uint8_t* w, uint64_t w_stride, const uint8_t* act, float* y) {
  const I512 nibble = set1_i(0x0F0F0F0F), bits45 = set1_i(0x30303030);
  const I512 spread[4] = {scale_spread(0), scale_spread(4), scale_spread(8), scale_spread(12)};
  alignas(64) int32_t shifts[16];  // the 32 qh bytes as they are (low 256 bits), then shifted right by 2
  for (int l = 0; l < 16; ++l) shifts[l] = l < 8 ? 0 : 2;
  const I512 qh_shift = load_i(shifts);
  F512 acc = zero_f();  // lanes 0..7
  for (int64_t ib = 0; ib < nb; ++ib) {
    const uint8_t* ab = act + ib * static_cast<int64_t>(kQ8_KBytes);
    const uint8_t* aq = ab + kQ8_KQsOffset;
    const I512 a_part[4] = {loadu_i(aq), loadu_i(aq + 64), loadu_i(aq + 128), loadu_i(aq + 192)};
    const I512 bsum = bcast256(ab + kQ8_KBsumsOffset);  // the sixteen int16 sums per 16 activations, twice
    read_ahead<kQ6KBytes>(w, w_stride, ib);

    I512 sums[8];
    for (int r = 0; r < 8; ++r) {
      const uint8_t* b = w + static_cast<uint64_t>(r) * w_stride + static_cast<uint64_t>(ib) * kQ6KBytes;
      const I512 sc = widen_i8x16(b + offsetof(BlockQ6_K, scales));  // int16 lanes 0..15, zero above
      I512 s = zero_i();
      for (int h = 0; h < 2; ++h) {
        const I512 ql = loadu_i(b + offsetof(BlockQ6_K, ql) + 64 * h);
        const uint8_t* qh = b + offsetof(BlockQ6_K, qh) + 32 * h;
        // Top bits of elements [0, 64) of the half at bits 0-1 (first 32) and 2-3 (next 32) of each byte; those
        // of [64, 128) at bits 4-5 and 6-7. Shifts of whole lanes: the masks drop what crosses a byte.
        const I512 hi = srlv_i(loadu_2x256(qh, qh), qh_shift);
        const I512 low64 = or_i(and_i(ql, nibble), and_i(slli_i<4>(hi), bits45));
        const I512 high64 = or_i(and_i(srli_i<4>(ql), nibble), and_i(hi, bits45));
        s = dpwssd(s, maddubs(low64, a_part[2 * h]), permute_i16(spread[2 * h], sc));
        s = dpwssd(s, maddubs(high64, a_part[2 * h + 1]), permute_i16(spread[2 * h + 1], sc));
      }
      // Less 32 × the scaled sums of the activations per 16 (the codes are stored + 32).
      sums[r] = sub_i(s, slli_i<5>(madd16(sc, bsum)));
    }
    const F512 d = row_scales(w, w_stride, ib, kQ6KBytes, offsetof(BlockQ6_K, d), load_f32(ab));
    acc = fmadd_f(cvt_f(lane_sums<8>(sums)), d, acc);
  }
  alignas(64) float out[16];
  store_f(out, acc);
  for (int r = 0; r < 8; ++r) y[r] = out[r];
}

// Q8_0: eight rows against one Q8_0 activation row (nb blocks of 32); y[r] for r < 8. Vector p holds rows 2p
// (lanes 0-7) and 2p + 1 (lanes 8-15), lane i the sum of products 4i .. 4i + 3 of the block. vpdpbusd takes
// unsigned bytes: the codes go in as code + 128 (a flipped sign bit) and each lane starts from -128 × the sum
// of its four activations, so the lane sums are exact.
inline void q8_0_rows8(int64_t nb, const uint8_t* w, uint64_t w_stride, const uint8_t* act, float* y) {
  const I512 sign = set1_i(static_cast<int32_t>(0x80808080u)), ones = set1_i(0x01010101);
  I512 pair_of[4];
  for (int p = 0; p < 4; ++p) {
    alignas(64) int32_t idx[16];
    for (int l = 0; l < 16; ++l) idx[l] = l < 8 ? 2 * p : 2 * p + 1;
    pair_of[p] = load_i(idx);
  }
  F512 acc[4] = {zero_f(), zero_f(), zero_f(), zero_f()};
  for (int64_t ib = 0; ib < nb; ++ib) {
    const uint8_t* ab = act + ib * static_cast<int64_t>(kQ8_0Bytes);
    const I512 a2 = bcast256(ab + 2);
    const I512 start = sub_i(zero_i(), slli_i<7>(dpbusd(zero_i(), ones, a2)));
    read_ahead<kQ8_0WeightBytes>(w, w_stride, ib);
    const F512 dd = row_scales(w, w_stride, ib, kQ8_0WeightBytes, 0, half_f(load_u16(ab)));
    for (int p = 0; p < 4; ++p) {
      const uint8_t* b = w + static_cast<uint64_t>(2 * p) * w_stride + static_cast<uint64_t>(ib) * kQ8_0WeightBytes;
      const uint8_t* qs = b + offsetof(BlockQ8_0, qs);
      const I512 codes = xor_i(loadu_2x256(qs, qs + w_stride), sign);
      acc[p] = fmadd_f(permute_f(pair_of[p], dd), cvt_f(dpbusd(start, codes, a2)), acc[p]);
    }
  }
  for (int p = 0; p < 4; ++p) {
    alignas(64) float out[16];
    store_f(out, acc[p]);
    for (int half = 0; half < 2; ++half) {
      const float* l = out + 8 * half;  // added as the AVX2 kernel's hsum does
      y[2 * p + half] = ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));
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

// Q4_K for calls whose tokens are all ungrouped (decode); `rest` takes every other call.
inline void q4k_ungrouped(const DotArgs& a, DotFn rest) noexcept {
  if (a.grouped_tokens != 0) {
    rest(a);
    return;
  }
  dot_by_rows8(a, 256, q4k_rows8, rest);
}

// Q6_K for calls of fewer than four tokens (decode), rounding as the prompt kernels do.
inline void q6k_few_tokens(const DotArgs& a, DotFn rest) noexcept {
  if (a.n_tokens >= 4) {
    rest(a);
    return;
  }
  dot_by_rows8(a, 256, q6k_rows8, rest);
}

// Q8_0 for calls of fewer than four tokens, in llama.cpp's order as every Q8_0 kernel.
inline void q8_0_few_tokens(const DotArgs& a, DotFn rest) noexcept {
  if (a.n_tokens >= 4) {
    rest(a);
    return;
  }
  dot_by_rows8(a, 32, q8_0_rows8, rest);
}

}  // namespace decode8
}  // namespace
}  // namespace r1::cpu
