// Flash attention over an F16 KV cache with AVX-512, bit-identical to attention_ref's flash path (ref_ops.cpp) as the
// AVX2 kernel (avx2/avx2_attention.cpp) is: the query rounded to fp16; q·k in ggml_vec_dot_f16's x86 order, whose four
// 8-lane accumulators over steps of 32 are here two 16-lane ones (elements i .. i + 15 and i + 16 .. i + 31 of each
// step), reduced in the same order; online softmax in float (libm's expf, as the reference); the running output rounded
// to fp16 at every update for a short context, in float with the positions in score blocks from
// kFlashFloatAccumulatorFrom on and in calls of kFlashTiledFromQueries rows. What it gains over AVX2: sixteen lanes per
// operation, and up to eight heads that share a KV head (grouped-query attention; MLA's one latent row) walk each key
// and value row together, every chunk loaded and converted once.
//
// Head sizes the two 16-lane accumulators do not cover (a head_dim_k that is not a multiple of 32, a
// head_dim_v not a multiple of 16) and Q8_0 caches go to the AVX2 kernel. Compiled natively
// (avx512_attention.cpp) and emulated in tests/kernels, like the prompt kernels.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "avx512_vec.h"
#include "cpu_kernel_table.h"
#include "ref_ops.h"

namespace r1::cpu {
namespace {
namespace attention16 {

using v512::F512;

inline constexpr int kMaxGroup = 8;

// One head's state over the keys seen so far: the fp16-rounded query and the output accumulator (as floats),
// the running maximum and sum.
struct Head {
  float* q;
  float* acc;
  float max;
  float sum;
};

// llama.cpp's horizontal sum of eight lanes, ((v0 + v4) + (v1 + v5)) + ((v2 + v6) + (v3 + v7)), of
// v[l] = s[l] + s[l + 8], where s = lo + hi adds its four accumulators lane by lane as ((a0 + a2) + (a1 + a3))
// (lo = a0|a1, hi = a2|a3).
R1_V512_INLINE float reduce_f16_dot(F512 s) {
  alignas(64) float x[16];
  v512::store_f(x, s);
  float v[8];
  for (int l = 0; l < 8; ++l) v[l] = x[l] + x[l + 8];
  const float t0 = v[0] + v[4], t1 = v[1] + v[5], t2 = v[2] + v[6], t3 = v[3] + v[7];
  return (t0 + t1) + (t2 + t3);
}

// reduce_f16_dot of sixteen keys' s at once, by a transposing tree whose every addition pairs the same two partial
// sums as the scalar one does (same bits), sixteen keys per vector operation: 46 operations where the scalar
// sums take some 24 each.
R1_V512_INLINE void reduce16_f16_dots(const F512* s, float* out) {
  using v512::add_f;
  F512 v[8], t[4], u[2];
  for (int k = 0; k < 8; ++k) {  // v[l] = s[l] + s[l + 8]: keys 2k and 2k + 1 in the two halves
    v[k] = add_f(v512::shuffle_quarters<0x44>(s[2 * k], s[2 * k + 1]),
                 v512::shuffle_quarters<0xEE>(s[2 * k], s[2 * k + 1]));
  }
  for (int m = 0; m < 4; ++m) {  // t[l] = v[l] + v[l + 4]: keys 4m .. 4m + 3 in the four quarters
    t[m] = add_f(v512::shuffle_quarters<0x88>(v[2 * m], v[2 * m + 1]),
                 v512::shuffle_quarters<0xDD>(v[2 * m], v[2 * m + 1]));
  }
  for (int n = 0; n < 2; ++n) {  // t0 + t1 and t2 + t3, in each quarter for keys 8n + q and 8n + 4 + q
    u[n] = add_f(v512::shuffle_pairs<0x88>(t[2 * n], t[2 * n + 1]), v512::shuffle_pairs<0xDD>(t[2 * n], t[2 * n + 1]));
  }
  const F512 r = add_f(v512::shuffle_pairs<0x88>(u[0], u[1]), v512::shuffle_pairs<0xDD>(u[0], u[1]));
  // Lane 4q + j of r holds key 4j + q.
  alignas(64) static constexpr int32_t kKeyLane[16] = {0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15};
  v512::store_f(out, v512::permute_f(v512::load_i(kKeyLane), r));
}

// q·k for G heads against one fp16 key of dk values (a multiple of 32), each chunk converted once; per head the
// sum of its accumulators (s of reduce_f16_dot) in out[g × stride].
template <int G>
R1_V512_INLINE void dot_sums(const Head* const* h, const uint16_t* kj, int dk, F512* out, int stride) {
  F512 lo[G], hi[G];
  for (int g = 0; g < G; ++g) lo[g] = hi[g] = v512::zero_f();
  for (int i = 0; i < dk; i += 32) {
    const F512 k0 = v512::load_halves_f(kj + i), k1 = v512::load_halves_f(kj + i + 16);
    for (int g = 0; g < G; ++g) {
      lo[g] = v512::fmadd_f(v512::loadu_f(h[g]->q + i), k0, lo[g]);
      hi[g] = v512::fmadd_f(v512::loadu_f(h[g]->q + i + 16), k1, hi[g]);
    }
  }
  for (int g = 0; g < G; ++g) out[g * stride] = v512::add_f(lo[g], hi[g]);
}

// Short contexts: keys [j0, j1) one at a time, the output accumulator rounded to fp16 at every update.
template <int G>
void keys_fp16_acc(const AttentionParams& p, Head* const* h, const uint16_t* k, uint64_t k_stride,
                   const uint16_t* v, uint64_t v_stride, int64_t j0, int64_t j1) {
  const int dk = p.head_dim_k, dv = p.head_dim_v;
  for (int64_t j = j0; j < j1; ++j) {
    F512 d[G];
    float w[G];
    dot_sums<G>(h, k + static_cast<uint64_t>(j) * k_stride, dk, d, 1);
    for (int g = 0; g < G; ++g) {
      Head& s = *h[g];
      const float sc = reduce_f16_dot(d[g]) * p.scale;
      float ms = 1.0f, vs = 1.0f;
      if (sc > s.max) {
        ms = __builtin_expf(s.max - sc);
        s.max = sc;
        const F512 m = v512::set1_f(ms);
        for (int e = 0; e < dv; e += 16) {
          v512::store_f(s.acc + e, v512::round_half_f(v512::mul_f(v512::loadu_f(s.acc + e), m)));
        }
      } else {
        vs = __builtin_expf(sc - s.max);
      }
      s.sum = s.sum * ms + vs;
      w[g] = vs;
    }
    const uint16_t* vj = v + static_cast<uint64_t>(j) * v_stride;
    for (int e = 0; e < dv; e += 16) {
      const F512 vv = v512::load_halves_f(vj + e);
      for (int g = 0; g < G; ++g) {
        float* a = h[g]->acc + e;
        v512::store_f(a, v512::round_half_f(v512::fmadd_f(vv, v512::set1_f(w[g]), v512::loadu_f(a))));
      }
    }
  }
}

// Long contexts and prompts: keys [j0, j1) (j0 a multiple of kFlashKeyBlock) in score blocks of kFlashKeyBlock: the
// block's scores, one maximum and one rescale per head, then the values added in position order, in float.
template <int G>
void keys_float_acc(const AttentionParams& p, Head* const* h, const uint16_t* k, uint64_t k_stride,
                    const uint16_t* v, uint64_t v_stride, int64_t j0, int64_t j1) {
  const int dk = p.head_dim_k, dv = p.head_dim_v;
  for (int64_t b0 = j0; b0 < j1; b0 += kFlashKeyBlock) {
    const int nb = static_cast<int>(std::min(kFlashKeyBlock, j1 - b0));
    // The block's dot products: each key's per-head sums, then sixteen keys of a head reduced at a time.
    F512 sums[G][kFlashKeyBlock];
    for (int i = 0; i < nb; ++i) {
      dot_sums<G>(h, k + static_cast<uint64_t>(b0 + i) * k_stride, dk, &sums[0][i], static_cast<int>(kFlashKeyBlock));
    }
    alignas(64) float w[G][kFlashKeyBlock];
    float block_max[G];
    for (int g = 0; g < G; ++g) {
      int i = 0;
      for (; i + 16 <= nb; i += 16) reduce16_f16_dots(sums[g] + i, w[g] + i);
      for (; i < nb; ++i) w[g][i] = reduce_f16_dot(sums[g][i]);
      block_max[g] = h[g]->max;
      for (i = 0; i < nb; ++i) {
        w[g][i] *= p.scale;
        block_max[g] = std::max(block_max[g], w[g][i]);
      }
    }
    for (int g = 0; g < G; ++g) {
      Head& s = *h[g];
      const float ms = __builtin_expf(s.max - block_max[g]);
      if (ms != 1.0f) {
        const F512 m = v512::set1_f(ms);
        for (int e = 0; e < dv; e += 16) v512::store_f(s.acc + e, v512::mul_f(v512::loadu_f(s.acc + e), m));
      }
      float block_sum = 0.0f;
      for (int i = 0; i < nb; ++i) {
        w[g][i] = __builtin_expf(w[g][i] - block_max[g]);
        block_sum += w[g][i];
      }
      s.sum = s.sum * ms + block_sum;
      s.max = block_max[g];
    }
    for (int e = 0; e < dv; e += 16) {
      F512 a[G];
      for (int g = 0; g < G; ++g) a[g] = v512::loadu_f(h[g]->acc + e);
      for (int i = 0; i < nb; ++i) {
        const F512 vv = v512::load_halves_f(v + static_cast<uint64_t>(b0 + i) * v_stride + e);
        for (int g = 0; g < G; ++g) a[g] = v512::fmadd_f(vv, v512::set1_f(w[g][i]), a[g]);
      }
      for (int g = 0; g < G; ++g) v512::store_f(h[g]->acc + e, a[g]);
    }
  }
}

template <int G>
void keys(const AttentionParams& p, bool fp16_acc, Head* const* h, const uint16_t* k, uint64_t k_stride,
          const uint16_t* v, uint64_t v_stride, int64_t j0, int64_t j1) {
  if (fp16_acc) keys_fp16_acc<G>(p, h, k, k_stride, v, v_stride, j0, j1);
  else keys_float_acc<G>(p, h, k, k_stride, v, v_stride, j0, j1);
}

using KeysFn = void (*)(const AttentionParams&, bool, Head* const*, const uint16_t*, uint64_t, const uint16_t*,
                        uint64_t, int64_t, int64_t);
inline constexpr KeysFn kKeys[kMaxGroup] = {keys<1>, keys<2>, keys<3>, keys<4>, keys<5>, keys<6>, keys<7>, keys<8>};

// Keys in blocks of about 64 KiB of one KV head's rows, every head of the range over a block before the next
// (each head still in key order), heads of one KV head up to kMaxGroup at a time.
void attention_flash(const AttentionParams& p, const float* q, const uint8_t* k, uint64_t k_row_bytes,
                     const uint8_t* v, uint64_t v_row_bytes, int64_t n_kv, float* out, int head_begin,
                     int head_end) noexcept {
  const int dk = p.head_dim_k, dv = p.head_dim_v;
  if (p.k_type != GgmlType::kF16 || p.v_type != GgmlType::kF16 || dk % 32 != 0 || dv % 16 != 0 ||
      k_row_bytes % 2 != 0 || v_row_bytes % 2 != 0) {
    avx2_table().attention_flash(p, q, k, k_row_bytes, v, v_row_bytes, n_kv, out, head_begin, head_end);
    return;
  }
  const int n = head_end - head_begin;
  if (n <= 0) return;
  const int group = p.n_head / p.n_head_kv;
  thread_local std::vector<float> buf;  // reused: attention runs once per token and layer
  thread_local std::vector<Head> heads;
  buf.resize(static_cast<size_t>(n) * static_cast<size_t>(dk + dv));
  heads.resize(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    Head& s = heads[static_cast<size_t>(i)];
    s.q = buf.data() + static_cast<size_t>(i) * static_cast<size_t>(dk + dv);
    s.acc = s.q + dk;
    s.max = -__builtin_inff();
    s.sum = 0.0f;
    const float* qs = q + static_cast<int64_t>(head_begin + i) * dk;
    for (int e = 0; e < dk; ++e) s.q[e] = static_cast<float>(static_cast<_Float16>(qs[e]));
    std::fill(s.acc, s.acc + dv, 0.0f);
  }
  const bool fp16_acc = flash_fp16_accumulator(p, n_kv);
  const uint64_t k_stride = k_row_bytes / 2, v_stride = v_row_bytes / 2;
  const auto* k16 = reinterpret_cast<const uint16_t*>(k);
  const auto* v16 = reinterpret_cast<const uint16_t*>(v);
  const int64_t fit = static_cast<int64_t>((64u << 10) / (static_cast<uint64_t>(dk + dv) * 2));
  // Cache blocks in whole score blocks, so the score blocks start where the reference's do.
  const int64_t block = std::max(kFlashKeyBlock, fit / kFlashKeyBlock * kFlashKeyBlock);
  for (int64_t j0 = 0; j0 < n_kv; j0 += block) {
    const int64_t j1 = std::min(n_kv, j0 + block);
    for (int i = 0; i < n;) {
      const int hk = (head_begin + i) / group;
      const int g = std::min({n - i, (hk + 1) * group - (head_begin + i), kMaxGroup});
      Head* h[kMaxGroup];
      for (int x = 0; x < g; ++x) h[x] = &heads[static_cast<size_t>(i + x)];
      kKeys[g - 1](p, fp16_acc, h, k16 + static_cast<uint64_t>(hk) * static_cast<uint64_t>(dk), k_stride,
                   v16 + static_cast<uint64_t>(hk) * static_cast<uint64_t>(dv), v_stride, j0, j1);
      i += g;
    }
  }
  for (int i = 0; i < n; ++i) {
    const Head& s = heads[static_cast<size_t>(i)];
    const float inv = s.sum == 0.0f ? 0.0f : 1.0f / s.sum;
    float* oh = out + static_cast<int64_t>(head_begin + i) * dv;
    for (int e = 0; e < dv; ++e) oh[e] = s.acc[e] * inv;
  }
}

}  // namespace attention16
}  // namespace

namespace R1_AVX512_NS {
void register_attention(KernelTable& t) { t.attention_flash = attention16::attention_flash; }
}  // namespace R1_AVX512_NS

}  // namespace r1::cpu
