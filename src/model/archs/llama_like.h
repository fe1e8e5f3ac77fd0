// The Llama-style decoder (Llama 3.x, Qwen2/2.5, and so R1-Distill-Llama and R1-Distill-Qwen): RMS norm,
// grouped-query attention with rotary embeddings (and Q/K/V biases for Qwen2), SwiGLU feed-forward.
// The architectures differ only in flags read from the file: the rope style and the biases.
#pragma once

#include <memory>

#include "model.h"

namespace r1 {

std::unique_ptr<Model> make_llama_like(const GgufSet& file, const ModelOptions& options, const Placement& placement);

}  // namespace r1
