// The routed-expert half of a mixture-of-experts block: given each token's chosen experts and weights, runs
// every chosen expert's SwiGLU feed-forward once over all the tokens routed to it (one matrix product per
// expert per projection, not one per token) and sums the weighted outputs per token. Routing is
// moe_router.h's; the shared expert is an ordinary feed-forward run by the caller.
#pragma once

#include <cstdint>
#include <vector>

#include "backend.h"

namespace r1 {

// One view per expert into the stacked 3-D tensors (ffn_{gate,up,down}_exps, or halves of ffn_gate_up_exps).
struct ExpertStack {
  std::vector<WeightView> gate;  // [n_expert] each [n_ff, n_embd]
  std::vector<WeightView> up;    // [n_expert] each [n_ff, n_embd]
  std::vector<WeightView> down;  // [n_expert] each [n_embd, n_ff]
};

struct MoeShape {
  int64_t n_embd = 0;
  int64_t n_ff = 0;   // per expert
  int n_used = 0;     // experts per token
};

// x: [n_tokens, n_embd]; experts, weights: [n_tokens, n_used]; out: [n_tokens, n_embd] (overwritten) =
// sum over k in slot order of weights[t, k] * expert_{experts[t, k]}(x[t]).
void moe_experts_forward(Backend& be, const ExpertStack& stack, const MoeShape& shape, const float* x, int64_t n_tokens,
                         const int32_t* experts, const float* weights, float* out);

}  // namespace r1
