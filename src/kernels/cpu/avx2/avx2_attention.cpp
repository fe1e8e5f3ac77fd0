// Flash attention over an F16 KV cache with AVX2+FMA+F16C, bit-identical to attention_ref's flash path (ref_ops.cpp),
// which reproduces llama.cpp's one-row CPU kernel: the query rounded to fp16, q·k as ggml_vec_dot_f16 sums on x86 (four
// 8-lane FMA accumulators over steps of 32, reduced in a fixed order, the tail in double), online softmax in float, and
// the running output kept in fp16 (every update rounded); from 512 positions on or in a call of 64 or more query rows,
// the output in float and the positions in blocks of 32 (flash_fp16_accumulator, kFlashKeyBlock). Heads sharing a KV
// head go up to three at a time. A Q8_0 cache works the same way with llama.cpp's Q8_0 numerics: the query quantized to
// Q8_0 and q·k as ggml_vec_dot_q8_0_q8_0 sums it, and a Q8_0 V row added into a float output at every position. Same
// operations in the same order as the reference, only eight lanes at a time; kernels_test checks the bits.

#include <algorithm>
#include <vector>

#include "avx2_common.h"
#include "quant_row.h"
#include "ref_ops.h"

namespace r1::cpu {
namespace {

R1_AVX2_INLINE __m256 load_f16x8(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
R1_AVX2_INLINE __m256 round_f16x8(__m256 v) {
  return _mm256_cvtph_ps(_mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

// One head's running state over the keys seen so far: the fp16-rounded query, the fp16-rounded output
// accumulator (as float), the running maximum and sum.
struct HeadState {
  float* q;
  const uint8_t* q8;  // a Q8_0 key's query: Q8_0 blocks
  float* acc;
  float max = -__builtin_inff();
  float sum = 0.0f;
};

// q·k for G heads against one fp16 key, each with q already fp16-rounded (as float) and summed in
// ggml_vec_dot_f16's x86 order (four accumulators per head over steps of 32, the same reduction, the tail in
// double); each chunk of k is converted from fp16 once for the G heads.
template <int G>
R1_AVX2_INLINE void dots_f16(const HeadState* const* st, const uint16_t* kj, int dk, float* out) {
  const int np = dk & ~31;
  __m256 acc[G][4];
  for (int g = 0; g < G; ++g) {
    for (int u = 0; u < 4; ++u) acc[g][u] = _mm256_setzero_ps();
  }
  for (int i = 0; i < np; i += 32) {
    for (int u = 0; u < 4; ++u) {
      const __m256 kv = load_f16x8(kj + i + 8 * u);
      for (int g = 0; g < G; ++g) acc[g][u] = _mm256_fmadd_ps(_mm256_loadu_ps(st[g]->q + i + 8 * u), kv, acc[g][u]);
    }
  }
  for (int g = 0; g < G; ++g) {
    const __m256 a = _mm256_add_ps(_mm256_add_ps(acc[g][0], acc[g][2]), _mm256_add_ps(acc[g][1], acc[g][3]));
    const __m128 t = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    const __m128 hh = _mm_hadd_ps(t, t);
    double sum = static_cast<double>(_mm_cvtss_f32(_mm_add_ss(hh, _mm_movehdup_ps(hh))));
    for (int i = np; i < dk; ++i) sum += static_cast<double>(st[g]->q[i] * _cvtsh_ss(kj[i]));
    out[g] = static_cast<float>(sum);
  }
}

// q·k for G heads against one Q8_0 key, each as ggml_vec_dot_q8_0_q8_0 with the head's Q8_0 query: per block
// an integer sum per four values (the key's magnitudes once for the G heads, its signs moved onto each query),
// one multiply-add into eight lanes by the product of the two scales, llama.cpp's horizontal sum.
template <int G>
R1_AVX2_INLINE void dots_q8_0(const HeadState* const* st, const uint8_t* kj, int dk, float* out) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[G];
  for (int g = 0; g < G; ++g) acc[g] = _mm256_setzero_ps();
  for (int b = 0; b < dk / 32; ++b) {
    const uint8_t* kb = kj + 34 * b;
    const __m256i kq = loadu256(kb + 2);
    const __m256i ku = _mm256_abs_epi8(kq);
    const float dk_scale = f16_at(kb);
    for (int g = 0; g < G; ++g) {
      const uint8_t* qb = st[g]->q8 + 34 * b;
      const __m256i sq = _mm256_sign_epi8(loadu256(qb + 2), kq);
      const __m256 sum = _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_maddubs_epi16(ku, sq), ones));
      acc[g] = _mm256_fmadd_ps(_mm256_set1_ps(dk_scale * f16_at(qb)), sum, acc[g]);
    }
  }
  for (int g = 0; g < G; ++g) out[g] = hsum(acc[g]);
}

// The cache's element types this file runs: F16 keys and values, or Q8_0 for either.
enum class Elem { kF16, kQ8_0 };

// Bytes of one head's dim values in a cached row.
template <Elem E>
constexpr uint64_t head_bytes(int dim) {
  return E == Elem::kF16 ? static_cast<uint64_t>(dim) * 2 : static_cast<uint64_t>(dim) / 32 * 34;
}

// Head hk's slice of cached row j.
template <Elem E>
R1_AVX2_INLINE const uint8_t* head_slice(const uint8_t* base, uint64_t row_bytes, int64_t j, int hk, int dim) {
  return base + static_cast<uint64_t>(j) * row_bytes + static_cast<uint64_t>(hk) * head_bytes<E>(dim);
}

template <int G, Elem K>
R1_AVX2_INLINE void dots_shared(const HeadState* const* st, const uint8_t* kj, int dk, float* out) {
  if constexpr (K == Elem::kF16) {
    dots_f16<G>(st, reinterpret_cast<const uint16_t*>(kj), dk, out);
  } else {
    dots_q8_0<G>(st, kj, dk, out);
  }
}

// Values d .. d + 7 of a head's V slice, as float.
template <Elem V>
R1_AVX2_INLINE __m256 load_values8(const uint8_t* vj, int d) {
  if constexpr (V == Elem::kF16) {
    return load_f16x8(reinterpret_cast<const uint16_t*>(vj) + d);
  } else {
    const uint8_t* b = vj + 34 * (d / 32);
    const __m128i q = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(b + 2 + d % 32));
    return _mm256_mul_ps(_mm256_set1_ps(f16_at(b)), _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)));
  }
}

// The float-accumulator path (a long context or a prompt: flash_fp16_accumulator false) for G heads sharing one KV
// head, keys [j0, j1) with j0 a multiple of kFlashKeyBlock: per block of kFlashKeyBlock positions the scores, one
// maximum and one rescale per head, then the values added in position order; the output chunk stays in a register
// across the block. attention_ref's blocked loop, operation for operation.
template <int G, Elem K>
R1_AVX2_INLINE void attend_blocks_float(const AttentionParams& p, HeadState* const* st, const uint8_t* k,
                                        uint64_t k_row_bytes, const uint8_t* v, uint64_t v_row_bytes, int hk,
                                        int64_t j0, int64_t j1) {
  const int dk = p.head_dim_k, dv = p.head_dim_v;
  const int dv8 = dv & ~7;
  const auto key = [&](int64_t j) { return head_slice<K>(k, k_row_bytes, j, hk, dk); };
  const auto value = [&](int64_t j) {
    return reinterpret_cast<const uint16_t*>(v + static_cast<uint64_t>(j) * v_row_bytes) + static_cast<int64_t>(hk) * dv;
  };
  for (int64_t b0 = j0; b0 < j1; b0 += kFlashKeyBlock) {
    const int nb = static_cast<int>(std::min(kFlashKeyBlock, j1 - b0));
    float w[G][kFlashKeyBlock];
    float block_max[G];
    for (int g = 0; g < G; ++g) block_max[g] = st[g]->max;
    for (int i = 0; i < nb; ++i) {
      float dots[G];
      dots_shared<G, K>(st, key(b0 + i), dk, dots);
      for (int g = 0; g < G; ++g) {
        w[g][i] = dots[g] * p.scale;
        block_max[g] = std::max(block_max[g], w[g][i]);
      }
    }
    for (int g = 0; g < G; ++g) {
      HeadState& h = *st[g];
      const float ms = __builtin_expf(h.max - block_max[g]);
      if (ms != 1.0f) {
        const __m256 m = _mm256_set1_ps(ms);
        int d = 0;
        for (; d < dv8; d += 8) _mm256_storeu_ps(h.acc + d, _mm256_mul_ps(_mm256_loadu_ps(h.acc + d), m));
        for (; d < dv; ++d) h.acc[d] *= ms;
      }
      float block_sum = 0.0f;
      for (int i = 0; i < nb; ++i) {
        w[g][i] = __builtin_expf(w[g][i] - block_max[g]);
        block_sum += w[g][i];
      }
      h.sum = h.sum * ms + block_sum;
      h.max = block_max[g];
    }
    int d = 0;
    for (; d < dv8; d += 8) {
      __m256 a[G];
      for (int g = 0; g < G; ++g) a[g] = _mm256_loadu_ps(st[g]->acc + d);
      for (int i = 0; i < nb; ++i) {
        const __m256 vv = load_f16x8(value(b0 + i) + d);
        for (int g = 0; g < G; ++g) a[g] = _mm256_fmadd_ps(vv, _mm256_set1_ps(w[g][i]), a[g]);
      }
      for (int g = 0; g < G; ++g) _mm256_storeu_ps(st[g]->acc + d, a[g]);
    }
    for (; d < dv; ++d) {
      for (int i = 0; i < nb; ++i) {
        const float vd = _cvtsh_ss(value(b0 + i)[d]);
        for (int g = 0; g < G; ++g) {
          st[g]->acc[d] = _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(vd), _mm_set_ss(w[g][i]), _mm_set_ss(st[g]->acc[d])));
        }
      }
    }
  }
}

// G heads that share one KV head over keys [j0, j1), each exactly as attention_ref's flash loop body does it
// position by position: with an F16 V cache (a short context) the output accumulator rounded to fp16 at every
// update, with a Q8_0 one kept in float. Sharing the work per key is what it gains: each eight-element chunk of
// the key and of the value row is loaded and converted once for the G heads (MLA: all heads read the one
// latent row; grouped-query attention: a group's heads read one KV head).
template <int G, Elem K, Elem V>
R1_AVX2_INLINE void attend_keys_shared(const AttentionParams& p, HeadState* const* st, const uint8_t* k,
                                       uint64_t k_row_bytes, const uint8_t* v, uint64_t v_row_bytes, int hk, int64_t j0,
                                       int64_t j1) {
  constexpr bool kRound = V == Elem::kF16;
  const auto round = [](__m256 x) { return kRound ? round_f16x8(x) : x; };
  const int dk = p.head_dim_k, dv = p.head_dim_v;
  const int dv8 = dv & ~7;
  for (int64_t j = j0; j < j1; ++j) {
    const uint8_t* kj = head_slice<K>(k, k_row_bytes, j, hk, dk);
    const uint8_t* vj = head_slice<V>(v, v_row_bytes, j, hk, dv);
    float dots[G];
    dots_shared<G, K>(st, kj, dk, dots);
    float w[G];
    for (int g = 0; g < G; ++g) {
      HeadState& h = *st[g];
      const float sc = dots[g] * p.scale;
      float ms = 1.0f, vs = 1.0f;
      if (sc > h.max) {
        ms = __builtin_expf(h.max - sc);
        h.max = sc;
        const __m256 m = _mm256_set1_ps(ms);
        int d = 0;
        for (; d < dv8; d += 8) _mm256_storeu_ps(h.acc + d, round(_mm256_mul_ps(_mm256_loadu_ps(h.acc + d), m)));
        for (; d < dv; ++d) h.acc[d] = _cvtsh_ss(_cvtss_sh(h.acc[d] * ms, _MM_FROUND_TO_NEAREST_INT));  // F16 only
      } else {
        vs = __builtin_expf(sc - h.max);
      }
      h.sum = h.sum * ms + vs;
      w[g] = vs;
    }
    // The value row into every head's accumulator, one conversion per chunk.
    int d = 0;
    for (; d < dv8; d += 8) {
      const __m256 vv = load_values8<V>(vj, d);
      for (int g = 0; g < G; ++g) {
        float* a = st[g]->acc + d;
        _mm256_storeu_ps(a, round(_mm256_fmadd_ps(vv, _mm256_set1_ps(w[g]), _mm256_loadu_ps(a))));
      }
    }
    for (; d < dv; ++d) {  // F16 only: a Q8_0 row's length is a multiple of 32
      const float vd = _cvtsh_ss(reinterpret_cast<const uint16_t*>(vj)[d]);
      for (int g = 0; g < G; ++g) {
        float* a = st[g]->acc + d;
        const float x = _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(vd), _mm_set_ss(w[g]), _mm_set_ss(*a)));
        *a = _cvtsh_ss(_cvtss_sh(x, _MM_FROUND_TO_NEAREST_INT));
      }
    }
  }
}

// G heads sharing a KV head over keys [j0, j1): position by position (an F16 V cache with a short context, or
// a Q8_0 V cache), or in score blocks with the float accumulator (an F16 V cache, long context or prompt).
template <int G, Elem K, Elem V, bool kBlocks>
R1_AVX2_INLINE void attend_group(const AttentionParams& p, HeadState* const* st, const uint8_t* k, uint64_t k_row_bytes,
                                 const uint8_t* v, uint64_t v_row_bytes, int hk, int64_t j0, int64_t j1) {
  if constexpr (kBlocks) {
    attend_blocks_float<G, K>(p, st, k, k_row_bytes, v, v_row_bytes, hk, j0, j1);
  } else {
    attend_keys_shared<G, K, V>(p, st, k, k_row_bytes, v, v_row_bytes, hk, j0, j1);
  }
}

// The keys in blocks of `block`, every head of the range over each block before the next: heads of one KV
// head three at a time (twelve accumulators fill the registers), the rest one or two.
template <Elem K, Elem V, bool kBlocks>
void walk_blocks(const AttentionParams& p, HeadState* heads, int n, int head_begin, int group, const uint8_t* k,
                 uint64_t k_row_bytes, const uint8_t* v, uint64_t v_row_bytes, int64_t n_kv, int64_t block) {
  for (int64_t j0 = 0; j0 < n_kv; j0 += block) {
    const int64_t j1 = std::min(n_kv, j0 + block);
    for (int i = 0; i < n;) {
      const int hk = (head_begin + i) / group;
      const int left = std::min(n - i, (hk + 1) * group - (head_begin + i));
      HeadState* st[3] = {&heads[i], left > 1 ? &heads[i + 1] : nullptr, left > 2 ? &heads[i + 2] : nullptr};
      const int g = std::min(left, 3);
      if (g == 3) {
        attend_group<3, K, V, kBlocks>(p, st, k, k_row_bytes, v, v_row_bytes, hk, j0, j1);
      } else if (g == 2) {
        attend_group<2, K, V, kBlocks>(p, st, k, k_row_bytes, v, v_row_bytes, hk, j0, j1);
      } else {
        attend_group<1, K, V, kBlocks>(p, st, k, k_row_bytes, v, v_row_bytes, hk, j0, j1);
      }
      i += g;
    }
  }
}

// Keys go in blocks that stay in cache while every head of the range walks them, each head in key order as
// before: heads that share a KV head (grouped-query attention, and MLA where all heads share the latent row)
// then read each cached row from memory once instead of once per head.
template <Elem K, Elem V>
void attention_flash_as(const AttentionParams& p, const float* q, const uint8_t* k, uint64_t k_row_bytes,
                        const uint8_t* v, uint64_t v_row_bytes, int64_t n_kv, float* out, int head_begin,
                        int head_end) noexcept {
  const int group = p.n_head / p.n_head_kv;
  const int dk = p.head_dim_k, dv = p.head_dim_v;
  const int n = head_end - head_begin;
  if (n <= 0) return;
  const size_t q8_bytes = K == Elem::kQ8_0 ? static_cast<size_t>(dk / 32 * 34) : 0;
  thread_local std::vector<float> buf;  // reused: attention runs once per token and layer
  thread_local std::vector<uint8_t> q8;
  thread_local std::vector<HeadState> heads;
  buf.resize(static_cast<size_t>(n) * static_cast<size_t>(dk + dv));
  q8.resize(static_cast<size_t>(n) * q8_bytes);
  heads.assign(static_cast<size_t>(n), HeadState{});
  for (int i = 0; i < n; ++i) {
    HeadState& st = heads[static_cast<size_t>(i)];
    st.q = buf.data() + static_cast<size_t>(i) * static_cast<size_t>(dk + dv);
    st.acc = st.q + dk;
    const float* qs = q + static_cast<int64_t>(head_begin + i) * dk;
    if constexpr (K == Elem::kF16) {
      for (int d = 0; d < dk; ++d) st.q[d] = _cvtsh_ss(_cvtss_sh(qs[d], _MM_FROUND_TO_NEAREST_INT));
    } else {
      uint8_t* blocks = q8.data() + static_cast<size_t>(i) * q8_bytes;
      quantize_row_q8_0_activations(qs, blocks, dk);
      st.q8 = blocks;
    }
    for (int d = 0; d < dv; ++d) st.acc[d] = 0.0f;
  }
  // About 64 KiB of one KV head's keys and values per block.
  const uint64_t row_bytes = head_bytes<K>(dk) + head_bytes<V>(dv);
  const int64_t block = std::max<int64_t>(8, static_cast<int64_t>((64u << 10) / row_bytes));
  if (V == Elem::kQ8_0 || flash_fp16_accumulator(p, n_kv)) {
    walk_blocks<K, V, false>(p, heads.data(), n, head_begin, group, k, k_row_bytes, v, v_row_bytes, n_kv, block);
  } else {
    // Cache blocks in whole score blocks, so the score blocks start where the reference's do.
    const int64_t whole = std::max(kFlashKeyBlock, block / kFlashKeyBlock * kFlashKeyBlock);
    walk_blocks<K, V, true>(p, heads.data(), n, head_begin, group, k, k_row_bytes, v, v_row_bytes, n_kv, whole);
  }
  for (int i = 0; i < n; ++i) {
    const HeadState& st = heads[static_cast<size_t>(i)];
    const float inv = st.sum == 0.0f ? 0.0f : 1.0f / st.sum;
    float* oh = out + static_cast<int64_t>(head_begin + i) * dv;
    for (int d = 0; d < dv; ++d) oh[d] = st.acc[d] * inv;
  }
}

void attention_flash(const AttentionParams& p, const float* q, const uint8_t* k, uint64_t k_row_bytes,
                     const uint8_t* v, uint64_t v_row_bytes, int64_t n_kv, float* out, int head_begin,
                     int head_end) noexcept {
  const bool k8 = p.k_type == GgmlType::kQ8_0, v8 = p.v_type == GgmlType::kQ8_0;
  const auto run = [&](auto fn) { fn(p, q, k, k_row_bytes, v, v_row_bytes, n_kv, out, head_begin, head_end); };
  if (!k8 && !v8) run(attention_flash_as<Elem::kF16, Elem::kF16>);
  else if (k8 && !v8) run(attention_flash_as<Elem::kQ8_0, Elem::kF16>);
  else if (!k8 && v8) run(attention_flash_as<Elem::kF16, Elem::kQ8_0>);
  else run(attention_flash_as<Elem::kQ8_0, Elem::kQ8_0>);
}

}  // namespace

void avx2::register_attention(KernelTable& t) { t.attention_flash = attention_flash; }

}  // namespace r1::cpu
