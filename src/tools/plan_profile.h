// ModelProfile: what the planner needs to know about a model — weight bytes per layer split into attention,
// dense FFN (or shared expert) and routed experts, the head/cache shape for KV-cache bytes, and parameter
// counts for FLOPs. Built from a tensor list, which comes either from a GGUF file (read exactly, split sets
// included) or from the model catalog (model_catalog.h). Placement and speed are in plan_estimate.h.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "gguf_set.h"
#include "type_table.h"

namespace r1::plan {

// One weight tensor, named as llama.cpp's GGUF names it ("blk.3.ffn_down_exps.weight").
struct PlanTensor {
  std::string name;
  uint64_t n_elements = 0;
  uint64_t n_bytes = 0;
  GgmlType type = GgmlType::kF32;
};

// Bytes of a set of weights by type: what a CPU's `--repack` copy of them is sized from (plan_estimate.h).
using BytesByType = std::map<GgmlType, uint64_t>;

// Bytes and parameters of one transformer block.
struct LayerWeights {
  uint64_t attn_bytes = 0;    // attention projections and their norms
  uint64_t ffn_bytes = 0;     // dense FFN, or shared expert + router (MoE); ffn norm
  uint64_t expert_bytes = 0;  // routed experts, all of them
  uint64_t attn_params = 0;
  uint64_t ffn_params = 0;
  uint64_t expert_params = 0;
  BytesByType dense_types;   // attention and FFN (attn_bytes + ffn_bytes) by type
  BytesByType expert_types;  // routed experts by type

  uint64_t bytes() const { return attn_bytes + ffn_bytes + expert_bytes; }
};

// The shape facts the planner uses (from GGUF metadata or the catalog).
struct ModelShapeFacts {
  std::string arch;           // "llama", "qwen2", "deepseek2"
  int n_layer = 0;            // blocks run per token (DeepSeek's next-token-prediction blocks excluded)
  int64_t n_embd = 0;
  int64_t n_vocab = 0;
  int n_head = 0;
  int n_head_kv = 0;          // llama-like
  int head_dim_k = 0;         // llama-like; MLA: per-head query/key width (nope + rope)
  int head_dim_v = 0;
  bool mla = false;           // multi-head latent attention: latent cache
  int64_t kv_lora_rank = 0;   // MLA
  int64_t n_rot = 0;          // MLA: rotated key part, shared by all heads
  int n_expert = 0;           // routed experts per MoE layer (0: dense model)
  int n_expert_used = 0;
  int64_t n_ff = 0;           // widest FFN intermediate (dense layers)
  int64_t n_ff_expert = 0;    // per expert
  int64_t n_ctx_train = 0;
};

struct ModelProfile {
  std::string name;   // catalog id or file path
  std::string quant;  // "Q4_K_M", "UD-IQ1_S", or the file's type
  ModelShapeFacts shape;
  std::vector<LayerWeights> layers;  // shape.n_layer entries
  uint64_t embed_bytes = 0;   // token embedding (only one row is read per token)
  uint64_t output_bytes = 0;  // output projection and final norm (read in full every token)
  uint64_t other_bytes = 0;   // everything else (next-token-prediction blocks, rope tables): loaded, not read
  uint64_t embed_params = 0;
  uint64_t output_params = 0;
  uint64_t other_params = 0;
  uint64_t file_bytes = 0;    // total size of the file(s) when read from GGUF, else 0
  BytesByType output_types;   // output_bytes by type

  uint64_t weight_bytes() const;
  uint64_t n_params() const;
  bool is_moe() const { return shape.n_expert > 0; }
  double expert_fraction() const;  // experts used per token ÷ experts (0 for dense)
  // Parameters multiplied per token in decode (routed experts scaled by expert_fraction; no embedding).
  double active_params() const;
  // KV-cache bytes per token of context, all layers, for a cache type (F16, Q8_0, ...).
  uint64_t kv_bytes_per_token(GgmlType cache_type) const;
  // Attention FLOPs per generated token per cached position (scores + weighted values, all layers).
  double attn_flops_per_position() const;
};

// Sorts tensors into layers and roles. Throws r1::Error when shape.n_layer is not positive.
ModelProfile profile_from_tensors(std::string name, std::string quant, const ModelShapeFacts& shape,
                                  const std::vector<PlanTensor>& tensors);

// Reads shapes from the metadata and sizes from the tensor infos (headers only). An architecture the
// planner does not know is an r1::Error naming the file.
ModelProfile profile_from_gguf(const GgufSet& set);

}  // namespace r1::plan
