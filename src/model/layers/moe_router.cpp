// Expert routing. Follows DeepSeek-V3's MoEGate (modeling_deepseek.py, "noaux_tc" top-k method) and the
// order of operations of llama.cpp's build_moe_ffn, whose float results the goldens hold.
#include "moe_router.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

namespace r1 {

namespace {

// Indices of the k largest values, largest first (ties: lower index first).
void top_k(const float* v, int n, int k, std::vector<int>& idx) {
  idx.resize(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int a, int b) {
    return v[a] > v[b] || (v[a] == v[b] && a < b);
  });
  idx.resize(static_cast<size_t>(k));
}

}  // namespace

void route_experts(const RouterParams& p, const float* logits, int64_t n_tokens, int32_t* experts, float* weights) {
  const int ne = p.n_expert;
  std::vector<float> probs(static_cast<size_t>(ne)), select(static_cast<size_t>(ne));
  std::vector<float> group_scores;
  std::vector<int> idx, groups;
  for (int64_t t = 0; t < n_tokens; ++t) {
    const float* l = logits + t * ne;
    // Gate scores: sigmoid (V3/R1) or softmax over all experts (V2), in float as ggml computes them.
    if (p.gating == ExpertGating::kSigmoid) {
      for (int e = 0; e < ne; ++e) probs[static_cast<size_t>(e)] = 1.0f / (1.0f + std::exp(-l[e]));
    } else {
      const float mx = *std::max_element(l, l + ne);
      double sum = 0.0;
      for (int e = 0; e < ne; ++e) {
        probs[static_cast<size_t>(e)] = std::exp(l[e] - mx);
        sum += probs[static_cast<size_t>(e)];
      }
      const float inv = static_cast<float>(1.0 / sum);
      for (auto& v : probs) v *= inv;
    }
    // The score-correction bias steers the choice only; the weights below use the unbiased scores.
    for (int e = 0; e < ne; ++e) {
      select[static_cast<size_t>(e)] = probs[static_cast<size_t>(e)] + (p.selection_bias ? p.selection_bias[e] : 0.0f);
    }
    // Group limit: a group scores the sum of its two best selection scores; only the best n_group_used groups
    // stay eligible (the others are set to -inf).
    if (p.n_group > 1) {
      const int per_group = ne / p.n_group;
      group_scores.assign(static_cast<size_t>(p.n_group), 0.0f);
      for (int g = 0; g < p.n_group; ++g) {
        top_k(select.data() + g * per_group, per_group, std::min(2, per_group), idx);
        float s = 0.0f;
        for (int i : idx) s += select[static_cast<size_t>(g * per_group + i)];
        group_scores[static_cast<size_t>(g)] = s;
      }
      top_k(group_scores.data(), p.n_group, p.n_group_used, groups);
      std::vector<uint8_t> keep(static_cast<size_t>(p.n_group), 0);
      for (int g : groups) keep[static_cast<size_t>(g)] = 1;
      for (int e = 0; e < ne; ++e) {
        if (!keep[static_cast<size_t>(e / per_group)]) select[static_cast<size_t>(e)] = -std::numeric_limits<float>::infinity();
      }
    }
    top_k(select.data(), ne, p.n_used, idx);
    int32_t* ex = experts + t * p.n_used;
    float* w = weights + t * p.n_used;
    float sum = 0.0f;
    for (int k = 0; k < p.n_used; ++k) {
      ex[k] = idx[static_cast<size_t>(k)];
      w[k] = probs[static_cast<size_t>(idx[static_cast<size_t>(k)])];
      sum += w[k];
    }
    if (p.normalize) {
      // Clamped as llama.cpp does, to avoid dividing by zero: the smallest normal fp16 value.
      sum = std::max(sum, 6.103515625e-5f);
      for (int k = 0; k < p.n_used; ++k) w[k] /= sum;
    }
    if (p.scale != 0.0f && p.scale != 1.0f) {
      for (int k = 0; k < p.n_used; ++k) w[k] *= p.scale;
    }
  }
}

}  // namespace r1
