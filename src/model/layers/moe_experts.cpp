// Routed experts, grouped by expert so prefill runs each expert's matrices once over its tokens.
#include "moe_experts.h"

#include <algorithm>

namespace r1 {

void moe_experts_forward(Backend& be, const ExpertStack& stack, const MoeShape& shape, const float* x, int64_t n_tokens,
                         const int32_t* experts, const float* weights, float* out) {
  const int64_t d = shape.n_embd;
  const int64_t f = shape.n_ff;
  const int n_used = shape.n_used;
  const int n_expert = static_cast<int>(stack.down.size());
  // Which (token, slot) pairs each expert serves, in token order.
  std::vector<std::vector<int64_t>> served(static_cast<size_t>(n_expert));
  for (int64_t i = 0; i < n_tokens * n_used; ++i) served[static_cast<size_t>(experts[i])].push_back(i);

  std::vector<float> y(static_cast<size_t>(n_tokens * n_used * d));  // [n_tokens, n_used, n_embd] weighted outputs
  std::vector<float> xs, gate, up, down;
  for (int e = 0; e < n_expert; ++e) {
    const auto& pairs = served[static_cast<size_t>(e)];
    if (pairs.empty()) continue;
    const int64_t m = static_cast<int64_t>(pairs.size());
    xs.resize(static_cast<size_t>(m * d));     // [m, n_embd] gathered inputs
    gate.resize(static_cast<size_t>(m * f));   // [m, n_ff]
    up.resize(static_cast<size_t>(m * f));     // [m, n_ff]
    down.resize(static_cast<size_t>(m * d));   // [m, n_embd]
    for (int64_t r = 0; r < m; ++r) {
      const int64_t t = pairs[static_cast<size_t>(r)] / n_used;
      std::copy(x + t * d, x + (t + 1) * d, xs.begin() + r * d);
    }
    be.matmul(stack.gate[static_cast<size_t>(e)], xs.data(), m, gate.data());
    be.matmul(stack.up[static_cast<size_t>(e)], xs.data(), m, up.data());
    be.swiglu(gate.data(), up.data(), gate.data(), m * f);
    be.matmul(stack.down[static_cast<size_t>(e)], gate.data(), m, down.data());
    for (int64_t r = 0; r < m; ++r) {
      const int64_t i = pairs[static_cast<size_t>(r)];
      const float w = weights[i];
      float* dst = y.data() + i * d;
      for (int64_t j = 0; j < d; ++j) dst[j] = down[static_cast<size_t>(r * d + j)] * w;
    }
  }
  // Sum the weighted outputs per token in slot order (llama.cpp adds the expert views one after another).
  for (int64_t t = 0; t < n_tokens; ++t) {
    float* o = out + t * d;
    const float* first = y.data() + t * n_used * d;
    std::copy(first, first + d, o);
    for (int k = 1; k < n_used; ++k) {
      const float* yk = y.data() + (t * n_used + k) * d;
      for (int64_t j = 0; j < d; ++j) o[j] += yk[j];
    }
  }
}

}  // namespace r1
