// Multi-head latent attention (DeepSeek-V2/V3/R1) over the compressed cache (MlaCache), in the two forms the
// same arithmetic can take. Per token and layer the cache holds c_kv = rms_norm(W_kv_a x) [kv_lora_rank] and
// the rotated shared key k_pe [n_rot]. For head h, with k_b[h]: [kv_lora_rank, nope] and v_b[h]:
// [head_v, kv_lora_rank]:
//   absorbed:  score(t, j) = (k_b[h] q_nope[h])·c_kv[j] + q_pe[h]·k_pe[j];  out[h] = v_b[h] (sum_j p_j c_kv[j])
//              multi-query attention over one shared [kv_lora_rank + n_rot] key whose first kv_lora_rank
//              values are also the value; per token it costs kv_lora_rank-sized work per head and position.
//   expanded:  K[h](j) = [k_b[h]^T c_kv[j], k_pe[j]],  V[h](j) = v_b[h] c_kv[j]  rebuilt for every position of
//              the context from the latent (legacy files' attn_kv_b does it in one product), then plain
//              attention with head_k / head_v-sized work per head and position.
// Rebuilding costs a product per cached position, so it can pay only when a micro-batch brings many tokens
// against a short past; one token against a long past (decoding) is far cheaper absorbed. r1 expands the
// micro-batch that starts a sequence (a prompt), where it never costs more (see mla_expands). Either way the
// cache holds only the latent: the rebuilt K and V live for one micro-batch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "backend.h"
#include "mla_cache.h"
#include "model.h"

namespace r1 {

struct MlaShape {
  int n_head = 0;
  int n_nope = 0;             // per-head key part without rope
  int n_rot = 0;              // rope part of the key (shared by all heads)
  int head_v = 0;             // per-head value size
  int64_t kv_lora_rank = 0;
  int64_t q_lora_rank = 0;    // 0: queries through one attn_q matrix
  float rms_eps = 1e-6f;
  float kq_scale = 1.0f;
  RopeParams rope;
  int head_k() const { return n_nope + n_rot; }
};

struct MlaWeights {
  WeightView q_a, q_b, q;             // q_a/q_b with q_lora_rank > 0, else q
  const float* q_a_norm = nullptr;
  WeightView kv_a;                    // [kv_lora_rank + n_rot, n_embd]
  const float* kv_a_norm = nullptr;
  std::vector<WeightView> k_b;        // [n_head] each [kv_lora_rank, nope]
  std::vector<WeightView> v_b;        // [n_head] each [head_v, kv_lora_rank]
  WeightView kv_b;                    // legacy files: [n_head * (nope + head_v), kv_lora_rank]; else data null
  GgmlType latent_rounding = GgmlType::kF32;  // legacy: the attn_kv_b type whose product rounds the latent
  WeightView wo;                      // [n_embd, n_head * head_v]
};

struct MlaRun {
  GgmlType cache_type = GgmlType::kF16;
  bool flash = true;
  MlaForm form = MlaForm::kAuto;
};

// Whether one sequence's tokens in a micro-batch (at these positions, reaching context positions in all) run
// expanded: the requested form, or under kAuto only when the micro-batch starts the sequence (no earlier
// positions), where the expanded form never costs more.
// Expanded needs attn_kv_b (legacy layout) and at most 1 GiB of rebuilt K and V; otherwise, and for
// split-layout files, the form is absorbed whatever was asked.
bool mla_expands(const MlaShape& s, const MlaWeights& w, const MlaRun& run, int64_t context,
                 std::span<const int32_t> positions);

// Attention of n tokens of batch b (from index start) for one layer: h [n, n_embd] in, out [n, n_embd] after
// attn_output. Stores the tokens' latent rows in the cache.
void mla_attention(Backend& be, const MlaShape& s, const MlaWeights& w, const MlaRun& run, MlaCache& cache, int layer,
                   const Batch& b, size_t start, int64_t n, const float* h, float* out);

}  // namespace r1
