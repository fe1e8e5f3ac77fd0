// The DeepSeek-V2/V3 decoder (GGUF architecture "deepseek2", so DeepSeek-R1 671B): multi-head latent
// attention over a compressed latent KV cache (both the legacy attn_kv_b layout and the split attn_k_b /
// attn_v_b layout), YaRN rotary embeddings on the shared rope part, leading dense feed-forward layers, then
// mixture-of-experts layers with a shared expert.
#pragma once

#include <memory>

#include "model.h"

namespace r1 {

std::unique_ptr<Model> make_deepseek2(const GgufSet& file, const ModelOptions& options, const Placement& placement);

}  // namespace r1
