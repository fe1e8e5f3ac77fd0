// Mixture-of-experts routing (DeepSeek-V2/V3 style): router logits → gate scores (softmax or sigmoid) → an
// optional selection bias and group limit used only to choose experts → top-k → weights from the unbiased
// scores, optionally normalized to sum 1, then scaled. Pure arithmetic on host arrays; the router matmul and
// the expert products are the caller's.
#pragma once

#include <cstdint>

namespace r1 {

enum class ExpertGating { kSoftmax, kSigmoid };

struct RouterParams {
  int n_expert = 0;
  int n_used = 0;                          // experts per token (top-k)
  int n_group = 0;                         // expert groups; <= 1 means no group limit
  int n_group_used = 0;                    // groups kept per token when n_group > 1
  ExpertGating gating = ExpertGating::kSoftmax;
  const float* selection_bias = nullptr;   // [n_expert] added to the scores for choosing only (exp_probs_b), or null
  bool normalize = false;                  // weights /= sum(weights) (sum clamped to the smallest normal fp16)
  float scale = 1.0f;                      // routed scaling factor applied after normalization
};

// logits: [n_tokens, n_expert]. experts, weights: [n_tokens, n_used], in descending order of the selection
// score (the order llama.cpp's top-k produces, which fixes the order the expert outputs are summed in).
void route_experts(const RouterParams& p, const float* logits, int64_t n_tokens, int32_t* experts, float* weights);

}  // namespace r1
