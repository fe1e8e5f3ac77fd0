// The few 512-bit operations the avx512/ kernels are written in, as small functions over two types: sixteen
// int32 lanes (I512) and sixteen float lanes (F512). Natively each is one AVX-512 instruction (files compiled
// with -mavx512f -mavx512bw -mavx512vl -mavx512vnni). With R1_AVX512_EMULATED defined they are plain C++ that
// follows each instruction's definition lane by lane, so the same kernel source runs, and is checked bit for
// bit against the reference, on a machine without AVX-512 (tests/kernels builds it that way; this machine
// has none). Internal linkage throughout, and no inline function of another header: see cpu_unpack.h.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

#if !defined(R1_AVX512_EMULATED)
#include <immintrin.h>
#endif

#define R1_V512_INLINE inline __attribute__((always_inline))

// The namespace of each kernel file's register function: avx512 natively; the emulated test build names its own.
#ifndef R1_AVX512_NS
#define R1_AVX512_NS avx512
#endif

namespace r1::cpu {
namespace {
namespace v512 {

#if defined(R1_AVX512_EMULATED)

struct alignas(64) I512 {
  int32_t v[16];
};
struct alignas(64) F512 {
  float v[16];
};

R1_V512_INLINE I512 load_i(const void* p) {  // 64 bytes, 64-byte aligned (natively; any here)
  I512 r;
  std::memcpy(r.v, p, 64);
  return r;
}
R1_V512_INLINE I512 loadu_i(const void* p) { return load_i(p); }  // 64 bytes, any alignment
// vcvtsh2ss (F16C): one fp16 number as a float (exact).
R1_V512_INLINE float half_f(uint16_t h) { return static_cast<float>(std::bit_cast<_Float16>(h)); }
R1_V512_INLINE I512 loadu_2x256(const void* lo, const void* hi) {  // 32 bytes from each
  I512 r;
  std::memcpy(r.v, lo, 32);
  std::memcpy(r.v + 8, hi, 32);
  return r;
}
// Four 16-byte loads into the four 128-bit quarters, in order (vinserti32x4).
R1_V512_INLINE I512 load_4x128(const void* q0, const void* q1, const void* q2, const void* q3) {
  I512 r;
  std::memcpy(r.v, q0, 16);
  std::memcpy(r.v + 4, q1, 16);
  std::memcpy(r.v + 8, q2, 16);
  std::memcpy(r.v + 12, q3, 16);
  return r;
}
R1_V512_INLINE void store_i(void* p, I512 a) { std::memcpy(p, a.v, 64); }
// vpblendmb with a constant: byte k of a, or'ed with bits where bit k of mask is set (vmovdqu8 maskz + vpor).
R1_V512_INLINE I512 or_bytes_where(I512 a, uint64_t mask, uint8_t bits) {
  uint8_t b[64];
  std::memcpy(b, a.v, 64);
  for (int k = 0; k < 64; ++k) b[k] = static_cast<uint8_t>(b[k] | ((mask >> k) & 1 ? bits : 0));
  std::memcpy(a.v, b, 64);
  return a;
}
R1_V512_INLINE F512 load_f(const float* p) {
  F512 r;
  std::memcpy(r.v, p, 64);
  return r;
}
R1_V512_INLINE void store_f(float* p, F512 a) { std::memcpy(p, a.v, 64); }  // unaligned
R1_V512_INLINE F512 loadu_f(const float* p) { return load_f(p); }  // any alignment
R1_V512_INLINE I512 zero_i() { return I512{}; }
R1_V512_INLINE F512 zero_f() { return F512{}; }
R1_V512_INLINE I512 set1_i(int32_t x) {
  I512 r;
  for (int l = 0; l < 16; ++l) r.v[l] = x;
  return r;
}
R1_V512_INLINE F512 set1_f(float x) {
  F512 r;
  for (int l = 0; l < 16; ++l) r.v[l] = x;
  return r;
}
// vpdpbusd: each lane plus the four products of its unsigned bytes of a with the signed bytes of b, in
// 32-bit arithmetic (no saturation).
R1_V512_INLINE I512 dpbusd(I512 acc, I512 a, I512 b) {
  for (int l = 0; l < 16; ++l) {
    uint8_t ua[4];
    int8_t sb[4];
    std::memcpy(ua, &a.v[l], 4);
    std::memcpy(sb, &b.v[l], 4);
    uint32_t s = static_cast<uint32_t>(acc.v[l]);
    for (int k = 0; k < 4; ++k) s += static_cast<uint32_t>(static_cast<int32_t>(ua[k]) * sb[k]);
    acc.v[l] = static_cast<int32_t>(s);
  }
  return acc;
}
// vpmulld: the low 32 bits of each product.
R1_V512_INLINE I512 mullo(I512 a, I512 b) {
  for (int l = 0; l < 16; ++l) {
    a.v[l] = static_cast<int32_t>(static_cast<uint32_t>(a.v[l]) * static_cast<uint32_t>(b.v[l]));
  }
  return a;
}
// vpmaddwd: per lane, low int16 × low int16 + high int16 × high int16.
R1_V512_INLINE I512 madd16(I512 a, I512 b) {
  for (int l = 0; l < 16; ++l) {
    int16_t x[2], y[2];
    std::memcpy(x, &a.v[l], 4);
    std::memcpy(y, &b.v[l], 4);
    a.v[l] = static_cast<int32_t>(static_cast<uint32_t>(x[0] * y[0]) + static_cast<uint32_t>(x[1] * y[1]));
  }
  return a;
}
R1_V512_INLINE I512 add_i(I512 a, I512 b) {
  for (int l = 0; l < 16; ++l) a.v[l] = static_cast<int32_t>(static_cast<uint32_t>(a.v[l]) + static_cast<uint32_t>(b.v[l]));
  return a;
}
R1_V512_INLINE I512 sub_i(I512 a, I512 b) {
  for (int l = 0; l < 16; ++l) a.v[l] = static_cast<int32_t>(static_cast<uint32_t>(a.v[l]) - static_cast<uint32_t>(b.v[l]));
  return a;
}
// vcvtdq2ps: rounded to nearest even, as C++'s int-to-float conversion in the default rounding mode.
R1_V512_INLINE F512 cvt_f(I512 a) {
  F512 r;
  for (int l = 0; l < 16; ++l) r.v[l] = static_cast<float>(a.v[l]);
  return r;
}
R1_V512_INLINE F512 mul_f(F512 a, F512 b) {
  for (int l = 0; l < 16; ++l) a.v[l] *= b.v[l];
  return a;
}
R1_V512_INLINE F512 sub_f(F512 a, F512 b) {
  for (int l = 0; l < 16; ++l) a.v[l] -= b.v[l];
  return a;
}
R1_V512_INLINE F512 add_f(F512 a, F512 b) {
  for (int l = 0; l < 16; ++l) a.v[l] += b.v[l];
  return a;
}
// vpand, vpor, vpxor.
R1_V512_INLINE I512 and_i(I512 a, I512 b) {
  for (int l = 0; l < 16; ++l) a.v[l] &= b.v[l];
  return a;
}
R1_V512_INLINE I512 or_i(I512 a, I512 b) {
  for (int l = 0; l < 16; ++l) a.v[l] |= b.v[l];
  return a;
}
R1_V512_INLINE I512 xor_i(I512 a, I512 b) {
  for (int l = 0; l < 16; ++l) a.v[l] ^= b.v[l];
  return a;
}
// vpsrld / vpslld by a constant: logical shifts of each lane.
template <int N>
R1_V512_INLINE I512 srli_i(I512 a) {
  for (int l = 0; l < 16; ++l) a.v[l] = static_cast<int32_t>(static_cast<uint32_t>(a.v[l]) >> N);
  return a;
}
template <int N>
R1_V512_INLINE I512 slli_i(I512 a) {
  for (int l = 0; l < 16; ++l) a.v[l] = static_cast<int32_t>(static_cast<uint32_t>(a.v[l]) << N);
  return a;
}
// vpsrad by a constant: arithmetic shift of each lane (the sign copied in).
template <int N>
R1_V512_INLINE I512 srai_i(I512 a) {
  for (int l = 0; l < 16; ++l) a.v[l] >>= N;
  return a;
}
// vpmovdw + vcvtph2ps: the fp16 number in the low 16 bits of each lane, as a float (exact).
R1_V512_INLINE F512 half_lo_to_f(I512 a) {
  F512 r;
  for (int l = 0; l < 16; ++l) {
    const auto h = static_cast<uint16_t>(a.v[l]);
    r.v[l] = half_f(h);
  }
  return r;
}
// Sixteen lanes of sixteen vectors transposed in place: afterwards lane r of v[k] is what lane k of v[r] was.
R1_V512_INLINE void transpose16(I512 v[16]) {
  I512 t[16];
  for (int k = 0; k < 16; ++k) {
    for (int r = 0; r < 16; ++r) t[k].v[r] = v[r].v[k];
  }
  for (int k = 0; k < 16; ++k) v[k] = t[k];
}
// out[i] = -128 × (the sum of the four signed bytes q[4i .. 4i + 3]), i < 8 (a 256-bit vpdpbusd against ones).
R1_V512_INLINE void neg_word_sums_x128(const uint8_t* q, int32_t out[8]) {
  for (int i = 0; i < 8; ++i) {
    int32_t s = 0;
    for (int k = 0; k < 4; ++k) s += static_cast<int8_t>(q[4 * i + k]);
    out[i] = -128 * s;
  }
}
// vfmadd: a * b + c with one rounding (__builtin_fmaf, not std::fma: see cpu_scalar.cpp).
R1_V512_INLINE F512 fmadd_f(F512 a, F512 b, F512 c) {
  for (int l = 0; l < 16; ++l) c.v[l] = __builtin_fmaf(a.v[l], b.v[l], c.v[l]);
  return c;
}
// vcvtph2ps: sixteen fp16 numbers as floats (exact).
R1_V512_INLINE F512 load_halves_f(const uint16_t* p) {
  F512 r;
  for (int l = 0; l < 16; ++l) r.v[l] = half_f(p[l]);
  return r;
}
// vcvtph2ps: eight fp16 numbers as floats in lanes 0..7 (exact), zero above.
R1_V512_INLINE F512 load_halves8_f(const uint16_t* p) {
  F512 r{};
  for (int l = 0; l < 8; ++l) r.v[l] = half_f(p[l]);
  return r;
}
// vcvtps2ph (round to nearest even) then vcvtph2ps: each lane rounded to fp16, as a float.
R1_V512_INLINE F512 round_half_f(F512 a) {
  for (int l = 0; l < 16; ++l) a.v[l] = static_cast<float>(static_cast<_Float16>(a.v[l]));
  return a;
}

// Bytes and int16 lanes of a vector, for the byte and word instructions below.
struct Bytes64 {
  uint8_t b[64];
};
R1_V512_INLINE Bytes64 bytes_of(I512 a) { return std::bit_cast<Bytes64>(a); }
R1_V512_INLINE I512 from_bytes(Bytes64 b) { return std::bit_cast<I512>(b); }
struct Words32 {
  int16_t w[32];
};
R1_V512_INLINE Words32 words_of(I512 a) { return std::bit_cast<Words32>(a); }
R1_V512_INLINE I512 from_words(Words32 w) { return std::bit_cast<I512>(w); }

// vbroadcasti64x4: the 32 bytes at p in both halves.
R1_V512_INLINE I512 bcast256(const void* p) { return loadu_2x256(p, p); }
// vbroadcasti32x4: the 16 bytes at p in each 128-bit quarter.
R1_V512_INLINE I512 bcast16(const void* p) { return load_4x128(p, p, p, p); }
// vpshufd: int32 lane k (k < 4) of each 128-bit quarter in all four lanes of that quarter.
R1_V512_INLINE I512 spread_lane(I512 a, int k) {
  for (int q = 0; q < 4; ++q) {
    const int32_t x = a.v[4 * q + k];
    for (int l = 0; l < 4; ++l) a.v[4 * q + l] = x;
  }
  return a;
}
// vpbroadcastq: the eight bytes of x in every 64 bits.
R1_V512_INLINE I512 set1_i64(uint64_t x) {
  I512 r;
  for (int k = 0; k < 8; ++k) std::memcpy(&r.v[2 * k], &x, 8);
  return r;
}
// vpshufb: in each 128-bit lane, byte i is byte (idx[i] & 15) of a's same lane, or 0 where idx[i] >= 0x80.
R1_V512_INLINE I512 shuffle_bytes(I512 a, I512 idx) {
  const Bytes64 x = bytes_of(a), i = bytes_of(idx);
  Bytes64 r;
  for (int k = 0; k < 64; ++k) r.b[k] = (i.b[k] & 0x80) ? 0 : x.b[(k & ~15) | (i.b[k] & 15)];
  return from_bytes(r);
}
// vpmaddubsw: per int16 lane, two unsigned bytes of a times the two signed bytes of b, summed with signed
// saturation.
R1_V512_INLINE I512 maddubs(I512 a, I512 b) {
  const Bytes64 x = bytes_of(a), y = bytes_of(b);
  Words32 r;
  for (int k = 0; k < 32; ++k) {
    const int s =
        x.b[2 * k] * static_cast<int8_t>(y.b[2 * k]) + x.b[2 * k + 1] * static_cast<int8_t>(y.b[2 * k + 1]);
    r.w[k] = static_cast<int16_t>(s < -32768 ? -32768 : s > 32767 ? 32767 : s);
  }
  return from_words(r);
}
// vpdpwssd: each lane plus the two products of its int16 halves (vpmaddwd's sum), in 32-bit arithmetic.
R1_V512_INLINE I512 dpwssd(I512 acc, I512 a, I512 b) { return add_i(acc, madd16(a, b)); }
// vpermw: int16 lane i is a's int16 lane (idx's int16 lane i & 31).
R1_V512_INLINE I512 permute_i16(I512 idx, I512 a) {
  const Words32 x = words_of(a), i = words_of(idx);
  Words32 r;
  for (int k = 0; k < 32; ++k) r.w[k] = x.w[i.w[k] & 31];
  return from_words(r);
}
// vshuff32x4: 128-bit quarters 0 and 1 from a, 2 and 3 from b, each picked by two bits of Imm.
template <int Imm>
R1_V512_INLINE F512 shuffle_quarters(F512 a, F512 b) {
  F512 r;
  for (int q = 0; q < 4; ++q) {
    const F512& from = q < 2 ? a : b;
    const int pick = (Imm >> (2 * q)) & 3;
    for (int l = 0; l < 4; ++l) r.v[4 * q + l] = from.v[4 * pick + l];
  }
  return r;
}
// vshufps: in each 128-bit quarter, lanes 0 and 1 from a's quarter, 2 and 3 from b's, each picked by two bits of Imm.
template <int Imm>
R1_V512_INLINE F512 shuffle_pairs(F512 a, F512 b) {
  F512 r;
  for (int q = 0; q < 4; ++q) {
    for (int l = 0; l < 4; ++l) r.v[4 * q + l] = (l < 2 ? a : b).v[4 * q + ((Imm >> (2 * l)) & 3)];
  }
  return r;
}
// vpermps: lane i is a's lane (idx's lane i & 15).
R1_V512_INLINE F512 permute_f(I512 idx, F512 a) {
  F512 r;
  for (int l = 0; l < 16; ++l) r.v[l] = a.v[idx.v[l] & 15];
  return r;
}
// vpsrlvd: each lane shifted right (logically) by the count in the same lane of n; counts over 31 give 0.
R1_V512_INLINE I512 srlv_i(I512 a, I512 n) {
  for (int l = 0; l < 16; ++l) {
    const auto c = static_cast<uint32_t>(n.v[l]);
    a.v[l] = c > 31 ? 0 : static_cast<int32_t>(static_cast<uint32_t>(a.v[l]) >> c);
  }
  return a;
}
// vpmovsxbw: the 16 signed bytes at p as int16 lanes 0..15, zero above.
R1_V512_INLINE I512 widen_i8x16(const void* p) {
  int8_t x[16];
  std::memcpy(x, p, 16);
  Words32 r{};
  for (int k = 0; k < 16; ++k) r.w[k] = x[k];
  return from_words(r);
}
// Lane k (k < N) is the sum of v[k]'s sixteen lanes; N = 8 repeats lanes 0..7 in lanes 8..15. Integer sums
// (wrapping), so the order of the native network does not matter.
template <int N>
R1_V512_INLINE I512 lane_sums(const I512 v[N]) {
  static_assert(N == 8 || N == 16);
  I512 r;
  for (int k = 0; k < 16; ++k) {
    uint32_t s = 0;
    for (int l = 0; l < 16; ++l) s += static_cast<uint32_t>(v[k % N].v[l]);
    r.v[k] = static_cast<int32_t>(s);
  }
  return r;
}

#else

using I512 = __m512i;
using F512 = __m512;

// GCC 12 warns that the intrinsics' own undefined placeholders "may be used uninitialized" (a false positive).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

R1_V512_INLINE I512 load_i(const void* p) { return _mm512_load_si512(p); }
R1_V512_INLINE I512 loadu_i(const void* p) { return _mm512_loadu_si512(p); }
R1_V512_INLINE I512 loadu_2x256(const void* lo, const void* hi) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(static_cast<const __m256i*>(lo))),
                            _mm256_loadu_si256(static_cast<const __m256i*>(hi)), 1);
}
R1_V512_INLINE I512 load_4x128(const void* q0, const void* q1, const void* q2, const void* q3) {
  const auto q = [](const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); };
  const __m512i lo = _mm512_inserti32x4(_mm512_castsi128_si512(q(q0)), q(q1), 1);
  return _mm512_inserti32x4(_mm512_inserti32x4(lo, q(q2), 2), q(q3), 3);
}
R1_V512_INLINE void store_i(void* p, I512 a) { _mm512_store_si512(p, a); }
R1_V512_INLINE I512 or_bytes_where(I512 a, uint64_t mask, uint8_t bits) {
  return _mm512_or_si512(a, _mm512_maskz_set1_epi8(mask, static_cast<char>(bits)));
}
R1_V512_INLINE F512 load_f(const float* p) { return _mm512_load_ps(p); }
R1_V512_INLINE void store_f(float* p, F512 a) { _mm512_storeu_ps(p, a); }
R1_V512_INLINE F512 loadu_f(const float* p) { return _mm512_loadu_ps(p); }
R1_V512_INLINE I512 zero_i() { return _mm512_setzero_si512(); }
R1_V512_INLINE F512 zero_f() { return _mm512_setzero_ps(); }
R1_V512_INLINE I512 set1_i(int32_t x) { return _mm512_set1_epi32(x); }
R1_V512_INLINE F512 set1_f(float x) { return _mm512_set1_ps(x); }
R1_V512_INLINE I512 dpbusd(I512 acc, I512 a, I512 b) { return _mm512_dpbusd_epi32(acc, a, b); }
R1_V512_INLINE I512 mullo(I512 a, I512 b) { return _mm512_mullo_epi32(a, b); }
R1_V512_INLINE I512 madd16(I512 a, I512 b) { return _mm512_madd_epi16(a, b); }
R1_V512_INLINE I512 add_i(I512 a, I512 b) { return _mm512_add_epi32(a, b); }
R1_V512_INLINE I512 sub_i(I512 a, I512 b) { return _mm512_sub_epi32(a, b); }
R1_V512_INLINE F512 cvt_f(I512 a) { return _mm512_cvtepi32_ps(a); }
R1_V512_INLINE F512 mul_f(F512 a, F512 b) { return _mm512_mul_ps(a, b); }
R1_V512_INLINE F512 sub_f(F512 a, F512 b) { return _mm512_sub_ps(a, b); }
R1_V512_INLINE F512 add_f(F512 a, F512 b) { return _mm512_add_ps(a, b); }
R1_V512_INLINE I512 and_i(I512 a, I512 b) { return _mm512_and_si512(a, b); }
R1_V512_INLINE I512 xor_i(I512 a, I512 b) { return _mm512_xor_si512(a, b); }
R1_V512_INLINE I512 or_i(I512 a, I512 b) { return _mm512_or_si512(a, b); }
template <int N>
R1_V512_INLINE I512 srli_i(I512 a) { return _mm512_srli_epi32(a, N); }
template <int N>
R1_V512_INLINE I512 slli_i(I512 a) { return _mm512_slli_epi32(a, N); }
template <int N>
R1_V512_INLINE I512 srai_i(I512 a) { return _mm512_srai_epi32(a, N); }
R1_V512_INLINE F512 half_lo_to_f(I512 a) { return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(a)); }
// The usual network: pairs of lanes within 128-bit quarters (unpack 32 and 64), then the quarters across four
// vectors (two rounds of vshufi32x4): 64 shuffles for the 16 x 16 lanes.
R1_V512_INLINE void transpose16(I512 v[16]) {
  I512 t[16], u[16];
  for (int k = 0; k < 8; ++k) {
    t[2 * k] = _mm512_unpacklo_epi32(v[2 * k], v[2 * k + 1]);
    t[2 * k + 1] = _mm512_unpackhi_epi32(v[2 * k], v[2 * k + 1]);
  }
  // u[4g + j]: in quarter q, element j of quarter q of rows 4g .. 4g + 3.
  for (int g = 0; g < 4; ++g) {
    u[4 * g + 0] = _mm512_unpacklo_epi64(t[4 * g], t[4 * g + 2]);
    u[4 * g + 1] = _mm512_unpackhi_epi64(t[4 * g], t[4 * g + 2]);
    u[4 * g + 2] = _mm512_unpacklo_epi64(t[4 * g + 1], t[4 * g + 3]);
    u[4 * g + 3] = _mm512_unpackhi_epi64(t[4 * g + 1], t[4 * g + 3]);
  }
  // Lane 4q + j of the result comes from quarter q of u[4g + j], g = 0 .. 3 in its four quarters.
  for (int j = 0; j < 4; ++j) {
    const I512 a = _mm512_shuffle_i32x4(u[j], u[4 + j], 0x88), b = _mm512_shuffle_i32x4(u[j], u[4 + j], 0xDD);
    const I512 c = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0x88), d = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0xDD);
    v[j] = _mm512_shuffle_i32x4(a, c, 0x88);
    v[8 + j] = _mm512_shuffle_i32x4(a, c, 0xDD);
    v[4 + j] = _mm512_shuffle_i32x4(b, d, 0x88);
    v[12 + j] = _mm512_shuffle_i32x4(b, d, 0xDD);
  }
}
R1_V512_INLINE void neg_word_sums_x128(const uint8_t* q, int32_t out[8]) {
  const __m256i sums = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(1),
                                           _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q)));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(sums, 7)));
}
R1_V512_INLINE F512 fmadd_f(F512 a, F512 b, F512 c) { return _mm512_fmadd_ps(a, b, c); }
R1_V512_INLINE F512 load_halves_f(const uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
R1_V512_INLINE F512 load_halves8_f(const uint16_t* p) {
  return _mm512_zextps256_ps512(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}
R1_V512_INLINE F512 round_half_f(F512 a) {
  return _mm512_cvtph_ps(_mm512_cvtps_ph(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

R1_V512_INLINE I512 bcast256(const void* p) {
  return _mm512_broadcast_i64x4(_mm256_loadu_si256(static_cast<const __m256i*>(p)));
}
R1_V512_INLINE I512 bcast16(const void* p) {
  return _mm512_broadcast_i32x4(_mm_loadu_si128(static_cast<const __m128i*>(p)));
}
// k is a constant wherever the kernels call this (unrolled loops), so the switch folds to one vpshufd.
R1_V512_INLINE I512 spread_lane(I512 a, int k) {
  switch (k) {
    case 0: return _mm512_shuffle_epi32(a, _MM_PERM_AAAA);
    case 1: return _mm512_shuffle_epi32(a, _MM_PERM_BBBB);
    case 2: return _mm512_shuffle_epi32(a, _MM_PERM_CCCC);
    default: return _mm512_shuffle_epi32(a, _MM_PERM_DDDD);
  }
}
R1_V512_INLINE float half_f(uint16_t h) { return _cvtsh_ss(h); }
R1_V512_INLINE I512 set1_i64(uint64_t x) { return _mm512_set1_epi64(static_cast<long long>(x)); }
R1_V512_INLINE I512 shuffle_bytes(I512 a, I512 idx) { return _mm512_shuffle_epi8(a, idx); }
R1_V512_INLINE I512 maddubs(I512 a, I512 b) { return _mm512_maddubs_epi16(a, b); }
R1_V512_INLINE I512 dpwssd(I512 acc, I512 a, I512 b) { return _mm512_dpwssd_epi32(acc, a, b); }
R1_V512_INLINE I512 permute_i16(I512 idx, I512 a) { return _mm512_permutexvar_epi16(idx, a); }
R1_V512_INLINE F512 permute_f(I512 idx, F512 a) { return _mm512_permutexvar_ps(idx, a); }
template <int Imm>
R1_V512_INLINE F512 shuffle_quarters(F512 a, F512 b) {
  return _mm512_shuffle_f32x4(a, b, Imm);
}
template <int Imm>
R1_V512_INLINE F512 shuffle_pairs(F512 a, F512 b) {
  return _mm512_shuffle_ps(a, b, Imm);
}
R1_V512_INLINE I512 srlv_i(I512 a, I512 n) { return _mm512_srlv_epi32(a, n); }
R1_V512_INLINE I512 widen_i8x16(const void* p) {
  return _mm512_zextsi256_si512(_mm256_cvtepi8_epi16(_mm_loadu_si128(static_cast<const __m128i*>(p))));
}
// A tree: pairs of vectors into one (unpack 32, add), pairs of those (unpack 64, add): each 128-bit quarter
// then holds four vectors' partial sums; two rounds of vshufi32x4 and adds gather the quarters. 24 operations
// for eight vectors, 45 for sixteen.
template <int N>
R1_V512_INLINE I512 lane_sums(const I512 v[N]) {
  static_assert(N == 8 || N == 16);
  I512 w[N / 2], u[N / 4], g[N / 8];
  for (int p = 0; p < N / 2; ++p) {
    w[p] = _mm512_add_epi32(_mm512_unpacklo_epi32(v[2 * p], v[2 * p + 1]),
                            _mm512_unpackhi_epi32(v[2 * p], v[2 * p + 1]));
  }
  for (int p = 0; p < N / 4; ++p) {
    u[p] = _mm512_add_epi32(_mm512_unpacklo_epi64(w[2 * p], w[2 * p + 1]),
                            _mm512_unpackhi_epi64(w[2 * p], w[2 * p + 1]));
  }
  // g[p]: quarters [v 8p..8p+3 of quarters 0+1, of 2+3, v 8p+4..8p+7 of quarters 0+1, of 2+3].
  for (int p = 0; p < N / 8; ++p) {
    g[p] = _mm512_add_epi32(_mm512_shuffle_i32x4(u[2 * p], u[2 * p + 1], 0x88),
                            _mm512_shuffle_i32x4(u[2 * p], u[2 * p + 1], 0xDD));
  }
  // With eight vectors g[0] meets itself, so lanes 8..15 repeat 0..7.
  const I512 hi = g[N / 8 - 1];
  return _mm512_add_epi32(_mm512_shuffle_i32x4(g[0], hi, 0x88), _mm512_shuffle_i32x4(g[0], hi, 0xDD));
}

#pragma GCC diagnostic pop

#endif

// Four bytes at p in every lane (natively one broadcast load, which the compiler may fold into the instruction).
R1_V512_INLINE I512 bcast4(const uint8_t* p) {
  int32_t x;
  std::memcpy(&x, p, 4);
  return set1_i(x);
}

}  // namespace v512
}  // namespace
}  // namespace r1::cpu
