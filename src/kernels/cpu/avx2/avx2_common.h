// AVX2 building blocks shared by the avx2/ kernels: the register-tiled loops for 256-element super-blocks
// (Q8_K activations), 32-element blocks (Q8_0/Q8_1 activations) and float rows, written once over small
// per-format "traits" structs that only unpack codes and scales. Included only by files compiled with
// -mavx2 -mfma -mf16c; everything has internal linkage (see cpu_unpack.h for why).
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "cpu_kernel_table.h"
#include "cpu_unpack.h"

#define R1_AVX2_INLINE inline __attribute__((always_inline))

namespace r1::cpu {
namespace {

R1_AVX2_INLINE __m256i loadu256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
R1_AVX2_INLINE __m128i loadu128(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }
R1_AVX2_INLINE __m128i loadu64(const void* p) { return _mm_loadl_epi64(static_cast<const __m128i*>(p)); }
R1_AVX2_INLINE float f16_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

// Decode streams each weight row once from DRAM, and the hardware prefetcher alone leaves bandwidth unused:
// one-token kernels also ask for the bytes kPrefetchAhead further on. Measured on R1-Distill-Qwen-1.5B Q8_0,
// 2 threads: 18.3 GB/s without, 20.4 at 2 KiB ahead, 20.1 at 3 KiB, 18.2 at 4 KiB (machine: 24.7).
inline constexpr int64_t kPrefetchAhead = 2048;
template <size_t kBytes>
R1_AVX2_INLINE void prefetch_ahead(const uint8_t* p) {
  for (size_t o = 0; o < kBytes; o += 64) _mm_prefetch(reinterpret_cast<const char*>(p + kPrefetchAhead + o), _MM_HINT_T0);
}

R1_AVX2_INLINE float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// 32 weight codes as the int8 dot product reads them. kUnsigned: u holds codes in [0, 127] and maddubs(u, a)
// is the product. kSigned: u = |w| and s carries the signs, which are moved onto the activations
// (maddubs(|w|, sign(a, w)) = sum w*a, exact while |w| * 127 * 2 < 2^15).
enum class Codes { kUnsigned, kSigned };
struct Chunk {
  __m256i u;
  __m256i s;
};
R1_AVX2_INLINE Chunk signed_chunk(__m256i w) { return {_mm256_abs_epi8(w), w}; }
R1_AVX2_INLINE Chunk unsigned_chunk(__m256i u) { return {u, u}; }

// 16 int16 sums of adjacent code × activation pairs.
template <Codes K>
R1_AVX2_INLINE __m256i pair_sums(const Chunk& c, __m256i a) {
  if constexpr (K == Codes::kSigned) a = _mm256_sign_epi8(a, c.s);
  return _mm256_maddubs_epi16(c.u, a);
}

// ---- super-blocks of 256 against Q8_K

// What a format's prepare() fills per super-block: the integer scales per 16 elements as int16 (elements
// 0..127 in sc_lo, 128..255 in sc_hi, each 8 scales repeated in both 128-bit lanes), the offsets per 16
// (multiplied with the activations' bsums) and the float multipliers (see SuperBlockCodes).
struct SuperPrep {
  __m256i sc_lo, sc_hi;
  __m256i off;
  float d, doff;
};

// From 8 scales per 32 elements (int16 in a 128-bit register): each scale serves two groups of 16.
R1_AVX2_INLINE void set_scales32(SuperPrep& p, __m128i sc8) {
  p.sc_lo = _mm256_broadcastsi128_si256(_mm_unpacklo_epi16(sc8, sc8));
  p.sc_hi = _mm256_broadcastsi128_si256(_mm_unpackhi_epi16(sc8, sc8));
}

// For chunk j (32 elements: groups 2j, 2j+1) the int16 scale of group 2j in the low lane and 2j+1 in the
// high lane: a byte shuffle of sc_lo/sc_hi picking int16 entries 2k and 2k+1 (k = j % 4).
struct ScalePickMasks {
  alignas(32) uint8_t m[4][32];
};
inline constexpr ScalePickMasks kScalePick = [] {
  ScalePickMasks t{};
  for (int k = 0; k < 4; ++k) {
    for (int i = 0; i < 16; i += 2) {
      t.m[k][i] = static_cast<uint8_t>(4 * k);
      t.m[k][i + 1] = static_cast<uint8_t>(4 * k + 1);
      t.m[k][16 + i] = static_cast<uint8_t>(4 * k + 2);
      t.m[k][16 + i + 1] = static_cast<uint8_t>(4 * k + 3);
    }
  }
  return t;
}();

// Chunk j (32 elements) of a super-block against NT activation rows: isum[t] += scale × (codes · activations),
// in eight int32 lanes per row.
template <class T, int NT>
R1_AVX2_INLINE void super_chunk(const uint8_t* blk, const typename T::Prep& p, int j, const uint8_t* ab,
                                uint64_t a_stride, __m256i* isum) {
  const Chunk c = T::chunk(blk, p, j);
  const __m256i s = _mm256_shuffle_epi8(j < 4 ? p.sc_lo : p.sc_hi,
                                        _mm256_load_si256(reinterpret_cast<const __m256i*>(kScalePick.m[j % 4])));
#pragma GCC unroll 4
  for (int t = 0; t < NT; ++t) {
    const __m256i av = loadu256(ab + t * a_stride + kQ8_KQsOffset + 32 * j);
    isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(pair_sums<T::kCodes>(c, av), s));
  }
}

// One weight row against NT activation rows. T: static constexpr size_t kBytes; static constexpr Codes kCodes;
// static constexpr bool kHasOff; struct Prep : SuperPrep; static void prepare(const uint8_t*, Prep&);
// static Chunk chunk(const uint8_t*, const Prep&, int j) (j is a constant once the loop is unrolled).
// Plain unrolled loops, not lambdas: GCC keeps arrays captured by reference in memory.
template <class T, int NT>
R1_AVX2_INLINE void super_tile(int64_t nb, const uint8_t* w, const uint8_t* a, uint64_t a_stride, float* y,
                               int64_t y_stride) {
  __m256 acc[NT];
#pragma GCC unroll 4
  for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t ib = 0; ib < nb; ++ib) {
    const uint8_t* blk = w + ib * static_cast<int64_t>(T::kBytes);
    const uint8_t* ab = a + ib * static_cast<int64_t>(kQ8_KBytes);
    if constexpr (NT == 1) prefetch_ahead<T::kBytes>(blk);
    typename T::Prep p;
    T::prepare(blk, p);
    __m256i isum[NT];
#pragma GCC unroll 4
    for (int t = 0; t < NT; ++t) isum[t] = _mm256_setzero_si256();
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) super_chunk<T, NT>(blk, p, j, ab, a_stride, isum);
#pragma GCC unroll 4
    for (int t = 0; t < NT; ++t) {
      const float da = load_f32(ab + t * a_stride);
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(p.d * da), _mm256_cvtepi32_ps(isum[t]), acc[t]);
      if constexpr (T::kHasOff) {
        const __m256i bsums = loadu256(ab + t * a_stride + kQ8_KBsumsOffset);
        const __m256 o = _mm256_cvtepi32_ps(_mm256_madd_epi16(bsums, p.off));
        acc[t] = _mm256_fnmadd_ps(_mm256_set1_ps(p.doff * da), o, acc[t]);
      }
    }
  }
#pragma GCC unroll 4
  for (int t = 0; t < NT; ++t) y[t * y_stride] = hsum(acc[t]);
}

// Walks the rows × tokens of a call in register tiles: tile<NR, NT>(row, token) with NT up to 4 tokens and
// NR = kRows rows (kRows1 when a single token is left).
template <int kRows, int kRows1, class Tile>
R1_AVX2_INLINE void for_tiles(const DotArgs& a, Tile&& tile) {
  auto rows = [&]<int NT>(int64_t t0) {
    constexpr int NR = NT == 1 ? kRows1 : kRows;
    int64_t r = 0;
    for (; r + NR <= a.n_rows; r += NR) tile.template operator()<NR, NT>(r, t0);
    for (; r < a.n_rows; ++r) tile.template operator()<1, NT>(r, t0);
  };
  int64_t t0 = 0;
  for (; t0 + 4 <= a.n_tokens; t0 += 4) rows.template operator()<4>(t0);
  switch (a.n_tokens - t0) {
    case 3: rows.template operator()<3>(t0); break;
    case 2: rows.template operator()<2>(t0); break;
    case 1: rows.template operator()<1>(t0); break;
    default: break;
  }
}

// A super-block as prepare() and chunk() leave it: what the dot products read, with no unpacking left to do.
// The codes of chunk j are kept once, as int8 codes for signed formats (the magnitudes are one instruction
// away) or as they are for unsigned ones.
struct UnpackedSuper : SuperPrep {
  __m256i q[8];
};

// Reads UnpackedSuper blocks through the format interface of super_tile, so both run the same arithmetic.
template <class T>
struct FromUnpacked {
  static constexpr size_t kBytes = sizeof(UnpackedSuper);
  static constexpr Codes kCodes = T::kCodes;
  static constexpr bool kHasOff = T::kHasOff;
  using Prep = SuperPrep;
  // Field by field, vector loads: GCC copies a struct of vectors through the stack in 16-byte halves, and
  // reading those back as 32-byte vectors defeats store forwarding (that stall made this path 4x slower).
  static R1_AVX2_INLINE void prepare(const uint8_t* b, Prep& p) {
    const UnpackedSuper& u = *reinterpret_cast<const UnpackedSuper*>(b);
    p.sc_lo = _mm256_load_si256(&u.sc_lo);
    p.sc_hi = _mm256_load_si256(&u.sc_hi);
    p.off = _mm256_load_si256(&u.off);
    p.d = u.d;
    p.doff = u.doff;
  }
  static R1_AVX2_INLINE Chunk chunk(const uint8_t* b, const Prep&, int j) {
    const __m256i q = _mm256_load_si256(&reinterpret_cast<const UnpackedSuper*>(b)->q[j]);
    if constexpr (kCodes == Codes::kSigned) return signed_chunk(q);
    else return unsigned_chunk(q);
  }
};

// Prompts: rows are unpacked once per call, a group at a time, into a per-thread buffer (L2-sized) that every
// token of the call then reads four at a time, instead of being unpacked again for every four tokens.
// Unpacking is most of the work for the lattice i-quants (grid lookups) and a good part of it for the
// split-bit K-quants. The sums are super_tile's, in its order, so the bits are those of the one-token path.
// Each group of four tokens walks the whole group of unpacked rows (kept in L2) with its activations in L1.
inline constexpr size_t kUnpackedGroupBytes = 256 * 1024;

template <class T>
void dot_super_unpacked(const DotArgs& a, int64_t nb) {
  if (a.n_rows <= 0) return;
  const int64_t group =
      std::clamp<int64_t>(static_cast<int64_t>(kUnpackedGroupBytes / (sizeof(UnpackedSuper) * nb)), 1, a.n_rows);
  thread_local std::vector<UnpackedSuper> rows;
  if (rows.size() < static_cast<size_t>(group * nb)) rows.resize(static_cast<size_t>(group * nb));
  const uint64_t row_bytes = sizeof(UnpackedSuper) * static_cast<uint64_t>(nb);
  const uint8_t* unpacked = reinterpret_cast<const uint8_t*>(rows.data());
  for (int64_t r0 = 0; r0 < a.n_rows; r0 += group) {
    const int64_t ng = std::min(group, a.n_rows - r0);
    for (int64_t r = 0; r < ng; ++r) {
      const uint8_t* w = a.w + (r0 + r) * a.w_stride;
      for (int64_t ib = 0; ib < nb; ++ib) {
        const uint8_t* blk = w + ib * static_cast<int64_t>(T::kBytes);
        typename T::Prep p;
        T::prepare(blk, p);
        UnpackedSuper& u = rows[static_cast<size_t>(r * nb + ib)];
        static_cast<SuperPrep&>(u) = p;
#pragma GCC unroll 8
        for (int j = 0; j < 8; ++j) {
          // A signed chunk may come as magnitudes and a separate sign pattern (grids); the code is their product.
          const Chunk c = T::chunk(blk, p, j);
          _mm256_store_si256(&u.q[j], T::kCodes == Codes::kSigned ? _mm256_sign_epi8(c.u, c.s) : c.u);
        }
      }
    }
    auto tokens = [&]<int NT>(int64_t t0) {
      for (int64_t r = 0; r < ng; ++r) {
        super_tile<FromUnpacked<T>, NT>(nb, unpacked + r * row_bytes, a.a + t0 * a.a_stride, a.a_stride,
                                        a.y + t0 * a.y_stride + r0 + r, a.y_stride);
      }
    };
    int64_t t0 = 0;
    for (; t0 + 4 <= a.n_tokens; t0 += 4) tokens.template operator()<4>(t0);
    for (; t0 < a.n_tokens; ++t0) tokens.template operator()<1>(t0);
  }
}

template <class T>
void dot_super(const DotArgs& a) noexcept {
  const int64_t nb = a.n / 256;
  if (a.pack_rows && a.n_tokens >= 4) {
    dot_super_unpacked<T>(a, nb);
    return;
  }
  for_tiles<1, 1>(a, [&]<int NR, int NT>(int64_t r, int64_t t0) {
    super_tile<T, NT>(nb, a.w + r * a.w_stride, a.a + t0 * a.a_stride, a.a_stride, a.y + t0 * a.y_stride + r,
                      a.y_stride);
  });
}

// ---- rows packed eight at a time (prompts)
// For several tokens, each call packs its weight rows eight at a time into a per-thread buffer that every
// token of the call then reuses, laid out so that each int32 lane of a vector belongs to one row: a 4-byte
// group of activations is broadcast to all lanes, and the sums per row need no horizontal reduction.

R1_AVX2_INLINE __m256i bcast32(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

// Rows in, columns out: v[i] lane r becomes v[r] lane i (eight rows of eight int32).
R1_AVX2_INLINE void transpose8_epi32(__m256i v[8]) {
  __m256i t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_epi32(v[i], v[i + 1]);
    t[i + 1] = _mm256_unpackhi_epi32(v[i], v[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_unpacklo_epi64(t[i], t[i + 2]);
    u[i + 1] = _mm256_unpackhi_epi64(t[i], t[i + 2]);
    u[i + 2] = _mm256_unpacklo_epi64(t[i + 1], t[i + 3]);
    u[i + 3] = _mm256_unpackhi_epi64(t[i + 1], t[i + 3]);
  }
  for (int i = 0; i < 4; ++i) {
    v[i] = _mm256_permute2x128_si256(u[i], u[i + 4], 0x20);
    v[i + 4] = _mm256_permute2x128_si256(u[i], u[i + 4], 0x31);
  }
}

// Drives a kernel over rows packed eight at a time. P::Packed holds one block (P::kBlock elements, P::kWeightBytes
// in the file, P::kActBytes of activations) of eight rows; P::State one token's accumulators for eight rows
// (value-initialized to zero); P::pack(w, w_stride, nb, out); P::tile<NT, kGrouped>(packed, nb, a, a_stride,
// state) adds nb blocks of NT tokens into state[0..NT); P::finish(state, y) stores the eight sums. kGrouped marks
// the first n - n % 4 tokens (Q4_K rounds differently there). The columns go in chunks whose packed rows stay in
// L1 while every token passes over them (whole rows of a 7B model's FFN did not fit L2 with the activations);
// each token's state waits between chunks, so every sum still runs over the blocks in order (the same bits).
// Packing costs about as much as one token's products, so calls with fewer than four tokens (decode) and the
// last n_rows % 8 rows go to rest(row) on the file's layout instead.
inline constexpr size_t kPackedChunkBytes = 16384;

template <class P, class Rest>
R1_AVX2_INLINE void dot_rows8(const DotArgs& a, Rest&& rest) {
  const int64_t nb = a.n / P::kBlock;
  int64_t r = 0;
  if (a.pack_rows && a.n_tokens >= 4) {
    const int64_t chunk = std::max<int64_t>(1, static_cast<int64_t>(kPackedChunkBytes / sizeof(typename P::Packed)));
    thread_local std::vector<typename P::Packed> packed;
    thread_local std::vector<typename P::State> state;
    if (packed.size() < static_cast<size_t>(2 * chunk)) packed.resize(static_cast<size_t>(2 * chunk));
    if (state.size() < static_cast<size_t>(2 * a.n_tokens)) state.resize(static_cast<size_t>(2 * a.n_tokens));
    const int64_t grouped = a.n_tokens - a.n_tokens % 4;
    // Kernels with tile_groups take sixteen rows at a time (two groups of eight, in half-sized column chunks
    // so both stay in L1), their grouped tokens two at a time; each row and token still sums its blocks in
    // order with the same rounding, so the grouping changes no bit.
    if constexpr (requires { P::kPairsOfGroups; }) {
      const int64_t half = std::max<int64_t>(1, chunk / 2);
      const int64_t nt = a.n_tokens;
      for (; r + 16 <= a.n_rows; r += 16) {
        for (int64_t t = 0; t < 2 * nt; ++t) state[static_cast<size_t>(t)] = typename P::State{};
        for (int64_t c0 = 0; c0 < nb; c0 += half) {
          const int64_t nc = std::min(half, nb - c0);
          for (int g = 0; g < 2; ++g) {
            P::pack(a.w + (r + 8 * g) * a.w_stride + c0 * static_cast<int64_t>(P::kWeightBytes), a.w_stride, nc,
                    packed.data() + g * half);
          }
          const uint8_t* act = a.a + c0 * static_cast<int64_t>(P::kActBytes);
          for (int64_t t = 0; t < grouped; t += 2) {
            P::template tile_groups<2, 2, true>(packed.data(), half, nc, act + t * a.a_stride, a.a_stride,
                                                &state[static_cast<size_t>(t)], nt);
          }
          for (int64_t t = grouped; t < nt; ++t) {
            P::template tile_groups<2, 1, false>(packed.data(), half, nc, act + t * a.a_stride, a.a_stride,
                                                 &state[static_cast<size_t>(t)], nt);
          }
        }
        for (int64_t t = 0; t < nt; ++t) {
          P::finish(state[static_cast<size_t>(t)], a.y + t * a.y_stride + r);
          P::finish(state[static_cast<size_t>(nt + t)], a.y + t * a.y_stride + r + 8);
        }
      }
    }
    for (; r + 8 <= a.n_rows; r += 8) {
      for (int64_t t = 0; t < a.n_tokens; ++t) state[static_cast<size_t>(t)] = typename P::State{};
      for (int64_t c0 = 0; c0 < nb; c0 += chunk) {
        const int64_t nc = std::min(chunk, nb - c0);
        P::pack(a.w + r * a.w_stride + c0 * static_cast<int64_t>(P::kWeightBytes), a.w_stride, nc, packed.data());
        const uint8_t* act = a.a + c0 * static_cast<int64_t>(P::kActBytes);
        for (int64_t t = 0; t < grouped; t += 4) {
          P::template tile<4, true>(packed.data(), nc, act + t * a.a_stride, a.a_stride, &state[static_cast<size_t>(t)]);
        }
        for (int64_t t = grouped; t < a.n_tokens; ++t) {
          P::template tile<1, false>(packed.data(), nc, act + t * a.a_stride, a.a_stride, &state[static_cast<size_t>(t)]);
        }
      }
      for (int64_t t = 0; t < a.n_tokens; ++t) P::finish(state[static_cast<size_t>(t)], a.y + t * a.y_stride + r);
    }
  }
  for (; r < a.n_rows; ++r) rest(r);
}

// ---- blocks of 32 against Q8_0 / Q8_1
// T: static constexpr size_t kBytes; static constexpr Codes kCodes; static constexpr bool kQ8_1;
// static void load(const uint8_t* block, Chunk&, float& d, float& m).

template <class T, int NR, int NT>
R1_AVX2_INLINE void block32_tile(int64_t nb, const uint8_t* w, uint64_t w_stride, const uint8_t* a,
                                 uint64_t a_stride, float* y, int64_t y_stride) {
  constexpr int64_t kAct = T::kQ8_1 ? kQ8_1Bytes : kQ8_0Bytes;
  constexpr int64_t kActQs = T::kQ8_1 ? 4 : 2;
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[NR][NT];
  float macc[NR][NT];
  for (int r = 0; r < NR; ++r) {
    for (int t = 0; t < NT; ++t) {
      acc[r][t] = _mm256_setzero_ps();
      macc[r][t] = 0.0f;
    }
  }
  for (int64_t ib = 0; ib < nb; ++ib) {
    if constexpr (NR == 1 && NT == 1) prefetch_ahead<T::kBytes>(w + ib * static_cast<int64_t>(T::kBytes));
    Chunk c[NR];
    float dw[NR], mw[NR];
    for (int r = 0; r < NR; ++r) T::load(w + r * w_stride + ib * static_cast<int64_t>(T::kBytes), c[r], dw[r], mw[r]);
    for (int t = 0; t < NT; ++t) {
      const uint8_t* ab = a + t * a_stride + ib * kAct;
      const __m256i av = loadu256(ab + kActQs);
      const float da = f16_at(ab);
      for (int r = 0; r < NR; ++r) {
        const __m256 p = _mm256_cvtepi32_ps(_mm256_madd_epi16(pair_sums<T::kCodes>(c[r], av), ones));
        acc[r][t] = _mm256_fmadd_ps(_mm256_set1_ps(dw[r] * da), p, acc[r][t]);
        if constexpr (T::kQ8_1) macc[r][t] += mw[r] * f16_at(ab + 2);
      }
    }
  }
  for (int r = 0; r < NR; ++r) {
    for (int t = 0; t < NT; ++t) y[t * y_stride + r] = hsum(acc[r][t]) + macc[r][t];
  }
}

// The signed 32-element formats for prompts, eight rows at a time (dot_rows8), in llama.cpp's order
// (Block32LlamaSum) and so with the same bits as block32_tile: word i of a block (codes 4i .. 4i + 3, decoded
// to int8 at packing, their magnitudes too) gives, for eight rows at once, the integer sum that is lane i of
// the one-row kernel; it goes into accumulator i with that kernel's multiply-add, and the eight accumulators
// are added in its horizontal order at the end. What packing saves is the per-row work: the scales' products
// are one vector multiply per block and token, the activation groups one broadcast for eight rows.
template <class T>
struct Block32Rows8Kernel {
  struct Packed {
    __m256i q[8];  // word i: lane r = codes 4i .. 4i + 3 of row r
    __m256i u[8];  // their magnitudes
    __m256 d;
  };
  struct State {
    __m256 acc[8];  // llama.cpp's eight lanes, each for eight rows
  };
  static constexpr int64_t kBlock = 32;
  static constexpr size_t kWeightBytes = T::kBytes;
  static constexpr size_t kActBytes = kQ8_0Bytes;
  static void pack(const uint8_t* w, uint64_t w_stride, int64_t nb, Packed* out) {
    for (int64_t ib = 0; ib < nb; ++ib) {
      __m256i v[8];
      alignas(32) float d[8];
      for (int r = 0; r < 8; ++r) {
        Chunk c;
        float m;
        T::load(w + r * w_stride + ib * static_cast<int64_t>(T::kBytes), c, d[r], m);
        v[r] = c.s;
      }
      transpose8_epi32(v);
      for (int i = 0; i < 8; ++i) {
        out[ib].q[i] = v[i];
        out[ib].u[i] = _mm256_abs_epi8(v[i]);
      }
      out[ib].d = _mm256_load_ps(d);
    }
  }
  // One token at a time: its eight accumulators fill the registers.
  template <int NT, bool>
  static R1_AVX2_INLINE void tile(const Packed* w, int64_t nb, const uint8_t* a, uint64_t a_stride, State* st) {
    const __m256i ones = _mm256_set1_epi16(1);
    for (int t = 0; t < NT; ++t) {
      const uint8_t* at = a + t * a_stride;
      __m256 acc[8];
      for (int i = 0; i < 8; ++i) acc[i] = st[t].acc[i];
      for (int64_t ib = 0; ib < nb; ++ib) {
        const uint8_t* ab = at + ib * static_cast<int64_t>(kQ8_0Bytes);
        const __m256 dd = _mm256_mul_ps(w[ib].d, _mm256_set1_ps(f16_at(ab)));
#pragma GCC unroll 8
        for (int i = 0; i < 8; ++i) {
          const __m256i sa = _mm256_sign_epi8(bcast32(ab + 2 + 4 * i), _mm256_load_si256(&w[ib].q[i]));
          const __m256i sum = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_load_si256(&w[ib].u[i]), sa), ones);
          acc[i] = _mm256_fmadd_ps(dd, _mm256_cvtepi32_ps(sum), acc[i]);
        }
      }
      for (int i = 0; i < 8; ++i) st[t].acc[i] = acc[i];
    }
  }
  // The lanes added as the one-row kernel's horizontal sum adds them.
  static R1_AVX2_INLINE void finish(const State& st, float* y) {
    const __m256 s04 = _mm256_add_ps(st.acc[0], st.acc[4]), s26 = _mm256_add_ps(st.acc[2], st.acc[6]);
    const __m256 s15 = _mm256_add_ps(st.acc[1], st.acc[5]), s37 = _mm256_add_ps(st.acc[3], st.acc[7]);
    _mm256_storeu_ps(y, _mm256_add_ps(_mm256_add_ps(s04, s26), _mm256_add_ps(s15, s37)));
  }
};

template <class T>
void dot_block32(const DotArgs& a) noexcept {
  const int64_t nb = a.n / 32;
  auto rows = [&](int64_t r0, int64_t n_rows) {
    DotArgs part = a;
    part.w = a.w + r0 * a.w_stride;
    part.n_rows = n_rows;
    part.y = a.y + r0;
    for_tiles<2, 1>(part, [&]<int NR, int NT>(int64_t r, int64_t t0) {
      block32_tile<T, NR, NT>(nb, part.w + r * a.w_stride, a.w_stride, a.a + t0 * a.a_stride, a.a_stride,
                              part.y + t0 * a.y_stride + r, a.y_stride);
    });
  };
  // The signed formats pack whole row groups for prompts; each (row, token) sum is the same in either kernel.
  if constexpr (T::kCodes == Codes::kSigned && !T::kQ8_1) {
    dot_rows8<Block32Rows8Kernel<T>>(a, [&](int64_t r) { rows(r, 1); });
  } else {
    rows(0, a.n_rows);
  }
}

// ---- float rows (F32, F16, BF16 weights; activations are float32 rounded to the weight's format)

template <GgmlType K>
R1_AVX2_INLINE __m256 load8(const uint8_t* w, int64_t i) {
  if constexpr (K == GgmlType::kF32) return _mm256_loadu_ps(reinterpret_cast<const float*>(w) + i);
  else if constexpr (K == GgmlType::kF16) return _mm256_cvtph_ps(loadu128(w + 2 * i));
  else return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(loadu128(w + 2 * i)), 16));
}
template <GgmlType K>
R1_AVX2_INLINE float load1(const uint8_t* w, int64_t i) {
  if constexpr (K == GgmlType::kF32) return load_f32(w + 4 * i);
  else if constexpr (K == GgmlType::kF16) return f16_at(w + 2 * i);
  else {
    uint16_t h;
    std::memcpy(&h, w + 2 * i, 2);
    const uint32_t bits = static_cast<uint32_t>(h) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
}

template <GgmlType K, int NT>
R1_AVX2_INLINE void float_tile(int64_t n, const uint8_t* w, const uint8_t* a, uint64_t a_stride, float* y,
                               int64_t y_stride) {
  constexpr int U = NT == 1 ? 4 : 1;  // independent accumulators per token to hide the FMA latency
  __m256 acc[NT][U];
  for (int t = 0; t < NT; ++t) {
    for (int u = 0; u < U; ++u) acc[t][u] = _mm256_setzero_ps();
  }
  const float* x[NT];
  for (int t = 0; t < NT; ++t) x[t] = reinterpret_cast<const float*>(a + t * a_stride);
  int64_t i = 0;
  for (; i + 8 * U <= n; i += 8 * U) {
    if constexpr (NT == 1) prefetch_ahead<8 * U * (K == GgmlType::kF32 ? 4 : 2)>(w + i * (K == GgmlType::kF32 ? 4 : 2));
    for (int u = 0; u < U; ++u) {
      const __m256 wv = load8<K>(w, i + 8 * u);
      for (int t = 0; t < NT; ++t) acc[t][u] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x[t] + i + 8 * u), acc[t][u]);
    }
  }
  for (; i + 8 <= n; i += 8) {
    const __m256 wv = load8<K>(w, i);
    for (int t = 0; t < NT; ++t) acc[t][0] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x[t] + i), acc[t][0]);
  }
  for (int t = 0; t < NT; ++t) {
    for (int u = 1; u < U; ++u) acc[t][0] = _mm256_add_ps(acc[t][0], acc[t][u]);
    float s = hsum(acc[t][0]);
    for (int64_t k = i; k < n; ++k) s += load1<K>(w, k) * x[t][k];
    y[t * y_stride] = s;
  }
}

template <GgmlType K>
void dot_float(const DotArgs& a) noexcept {
  for_tiles<1, 1>(a, [&]<int NR, int NT>(int64_t r, int64_t t0) {
    float_tile<K, NT>(a.n, a.w + r * a.w_stride, a.a + t0 * a.a_stride, a.a_stride, a.y + t0 * a.y_stride + r,
                      a.y_stride);
  });
}

}  // namespace
}  // namespace r1::cpu

namespace r1::cpu::avx2 {
// Each avx2_*.cpp file puts its kernels in the table (entries indexed by GgmlType id).
void register_kquants(KernelTable& t);
void register_iquants(KernelTable& t);
void register_legacy(KernelTable& t);
void register_attention(KernelTable& t);
void register_quantize(KernelTable& t);
void register_swiglu(KernelTable& t);
}  // namespace r1::cpu::avx2
