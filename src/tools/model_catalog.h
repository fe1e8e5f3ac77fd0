// The model catalog behind `r1 plan`: the DeepSeek-R1 family with real shapes (one row per model), and the
// quantization recipes (one row per named mix: llama.cpp's standard mixes and the dynamic MoE recipes) that
// say which tensor gets which type. Together they give the tensor list a GGUF file of that model would have,
// without the file. Profiles and placement are in plan_profile.h / plan_estimate.h.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "plan_profile.h"

namespace r1::plan {

struct CatalogModel {
  std::string_view id;          // store name: "deepseek-r1:7b"
  std::string_view hf_repo;     // "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"
  std::string_view arch;        // "qwen2", "llama", "deepseek2"
  int n_layer;
  int64_t n_embd;
  int64_t n_ff;                 // dense FFN intermediate
  int n_head;
  int n_head_kv;
  int head_dim;                 // llama-like; DeepSeek: v_head_dim
  int64_t n_vocab;
  int64_t n_ctx_train;
  bool qkv_bias;                // Qwen2: biases on q, k, v
  bool tied_embeddings;
  // DeepSeek-V3 / R1 (MLA + MoE); zero for the distills.
  int64_t q_lora_rank;
  int64_t kv_lora_rank;
  int64_t rope_dim;             // qk_rope_head_dim
  int64_t nope_dim;             // qk_nope_head_dim
  int n_expert;                 // routed
  int n_expert_shared;
  int n_expert_used;
  int64_t n_ff_expert;
  int n_dense_lead;             // first layers with a dense FFN
  uint64_t published_q4_k_m_bytes;  // size of a published Q4_K_M file, for validation (0: none cited)
  std::string_view source;      // where the shape comes from

  bool is_moe() const { return n_expert > 0; }
};

// A quantization the planner offers, by the name users know it under. Its per-tensor types are not here: the
// planner sizes a catalog model by running the quantizer's own planner (quantize_plan.h) on the model's
// shapes, with llama.cpp's mix rules or r1's dynamic R1 recipes (quantize_recipes.h), so `r1 plan`, `r1 synth`
// and `r1 quantize --dry-run` agree to the byte. One table per concept: the types live there.
struct QuantRecipe {
  std::string_view name;         // "Q4_K_M", "UD-IQ1_S"
  std::string_view description;
  std::string_view quantizer;    // what the quantizer calls it: a mix ("Q4_K_M") or an R1 recipe ("r1-1.58bit")
  bool moe_only;                 // a dynamic recipe for MoE models
  uint64_t published_671b_bytes;  // published size of the DeepSeek-R1 671B file (0: none cited)
};

std::span<const CatalogModel> model_catalog();
// By id ("deepseek-r1:7b"), by size tag ("7b", "671b") or by Hugging Face name with or without the organization
// and the "DeepSeek-" prefix ("DeepSeek-R1-Distill-Qwen-7B", "r1-distill-qwen-7b", "deepseek-r1"), case-insensitive.
const CatalogModel* find_model(std::string_view name);

std::span<const QuantRecipe> quant_recipes();
const QuantRecipe* find_recipe(std::string_view name);  // case-insensitive
// The recipes worth planning for a model: the standard mixes, plus the dynamic ones for MoE models.
std::vector<const QuantRecipe*> recipes_for(const CatalogModel& model);
// The quantization `r1 plan` shows first for a model (Q4_K_M; UD-IQ1_S for 671B).
std::string_view default_quant(const CatalogModel& model);

// One tensor of a catalog model, shape only: dims fastest-varying first (GGUF order); matrix: a weight a
// recipe types (2-D, or a 3-D stack of experts), else kept at F32 (norms, biases, the router).
struct CatalogTensor {
  std::string name;
  std::vector<uint64_t> dims;
  int layer;  // -1 outside the blocks
  bool matrix;
};
// The tensors a GGUF of this model holds (names as llama.cpp writes them, legacy MLA layout), in file order.
std::vector<CatalogTensor> catalog_tensor_shapes(const CatalogModel& model);
// The same with the sizes they have at this recipe.
std::vector<PlanTensor> catalog_tensors(const CatalogModel& model, const QuantRecipe& recipe);
ModelShapeFacts catalog_shape(const CatalogModel& model);
ModelProfile profile_from_catalog(const CatalogModel& model, const QuantRecipe& recipe);

}  // namespace r1::plan
