// Reference versions of the non-matmul ops of a transformer step: RMS norm, rotary embedding, SwiGLU, and
// attention over a KV cache in F32, F16 or Q8_0, with llama.cpp's numerics (including its flash-attention
// path, which accumulates V in fp16 when the cache is F16). Scalar and plain: the oracle for faster kernels.
#pragma once

#include <cstdint>

#include "type_table.h"

namespace r1 {

// y = x / sqrt(mean(x^2) + eps) * weight (weight may be null). n values; y may alias x.
void rms_norm_ref(const float* x, const float* weight, float* y, int64_t n, float eps);

enum class RopeStyle { kNormal, kNeox };  // normal: rotate (x[2i], x[2i+1]); NEOX: rotate (x[i], x[i + n_rot/2])

struct RopeParams {
  RopeStyle style = RopeStyle::kNormal;
  int n_rot = 0;                         // rotated dimensions per head (the rest pass through)
  float freq_base = 10000.0f;
  float freq_scale = 1.0f;               // 1 / context scaling factor (YaRN, linear)
  float ext_factor = 0.0f;               // YaRN extrapolation mix; 0 disables YaRN
  float attn_factor = 1.0f;              // magnitude scaling of cos/sin
  float beta_fast = 32.0f, beta_slow = 1.0f;
  int n_ctx_orig = 0;
  const float* freq_factors = nullptr;   // n_rot/2 divisors of the frequencies (llama3 scaling), or null
};

// Rotates n_heads heads of head_dim values (head-major, contiguous) for position pos, in place.
void rope_ref(float* x, int n_heads, int head_dim, int64_t pos, const RopeParams& p);

// out[i] = silu(gate[i]) * up[i]
void swiglu_ref(const float* gate, const float* up, float* out, int64_t n);

struct AttentionParams {
  int n_head = 0;
  int n_head_kv = 0;
  int head_dim_k = 0;
  int head_dim_v = 0;
  float scale = 1.0f;
  GgmlType k_type = GgmlType::kF32;  // cache element types (F32, F16 or Q8_0)
  GgmlType v_type = GgmlType::kF32;
  bool flash = false;                // llama.cpp's flash-attention numerics (online softmax, fp16 V accumulator)
  int64_t n_queries = 1;             // query rows in the call (a micro-batch's tokens); the backend sets it
};

// Flash attention keeps its running output in fp16 for an F16 V cache, as llama.cpp's one-row CPU kernel does,
// while the context is short (fewer than 512 positions: what its goldens exercise) and the call has fewer than
// 64 query rows. Elsewhere llama.cpp itself changes kernels: a call of 64 or more query rows (a prompt) goes
// through its tiled kernel, whose tiles are float, and decode from 512 positions on splits the positions over
// its threads (so its result depends on the thread count). r1 then keeps the output in float: more exact than
// any of them, the same for any thread count, and several times less work per position.
inline constexpr int64_t kFlashFloatAccumulatorFrom = 512;
inline constexpr int64_t kFlashTiledFromQueries = 64;
inline bool flash_fp16_accumulator(const AttentionParams& p, int64_t n_kv) {
  // llama.cpp's tiled kernel takes K and V of one type only (a Q8_0 key cache keeps the one-row kernel).
  const bool tiled = p.n_queries >= kFlashTiledFromQueries && p.k_type == p.v_type;
  return p.v_type == GgmlType::kF16 && n_kv < kFlashFloatAccumulatorFrom && !tiled;
}
// With the float accumulator over an F16 V cache, positions go in blocks of this many (counted from position
// 0): the block's scores first, one maximum and one rescale of the output per block, then the block's values
// added into the output position by position. Far less work per position than one update per key, and as exact.
inline constexpr int64_t kFlashKeyBlock = 32;

// One query token against n_kv cached positions (all visible: the caller passes only the causal prefix).
// q: [n_head, head_dim_k] f32. K row j at k + j*k_row_bytes holds [n_head_kv, head_dim_k] in k_type; likewise V.
// out: [n_head, head_dim_v]. Only heads [head_begin, head_end) are computed (head_end < 0: to the last), so
// threads can split the heads.
void attention_ref(const AttentionParams& p, const float* q, const uint8_t* k, uint64_t k_row_bytes,
                   const uint8_t* v, uint64_t v_row_bytes, int64_t n_kv, float* out, int head_begin = 0,
                   int head_end = -1);

}  // namespace r1
