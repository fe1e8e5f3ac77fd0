// Dynamic MoE recipes (per-tensor types for DeepSeek-V3/R1 in the manner of Unsloth's published R1 tiers) and the
// shape catalog that lets `r1 quantize --dry-run --like deepseek-r1` plan the 671B model without its data.
// The planner (quantize_plan.h) asks a recipe for a tensor's type; what a recipe does not name follows the mix.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "quantize_plan.h"
#include "type_table.h"

namespace r1 {

// One tier. Layers are counted the DeepSeek way: the first n_leading_dense blocks are dense FFN, the rest MoE.
struct QuantRecipe {
  std::string_view name;          // "r1-1.58bit"
  std::string_view mix;           // the mix whose file type the output carries: "IQ1_S"
  std::string_view summary;
  double published_size_gb;       // the size Unsloth published for its file of this tier ("131GB")
  GgmlType experts_gate_up;       // ffn_gate_exps / ffn_up_exps in every MoE layer
  GgmlType experts_down_first;    // ffn_down_exps in the first n_down_first MoE layers
  GgmlType experts_down_rest;     // ffn_down_exps in the other MoE layers
  int n_down_first;
  GgmlType attention;             // attn_q_a, attn_q_b, attn_kv_a_mqa, attn_kv_b, attn_k_b, attn_v_b, attn_output
  GgmlType dense_ffn;             // ffn_gate/up/down of the leading dense layers
  GgmlType shared_experts;        // ffn_*_shexp
  GgmlType token_embd;
  GgmlType output;
};

std::span<const QuantRecipe> all_quant_recipes();
const QuantRecipe* find_quant_recipe(std::string_view name);  // case-insensitive
std::string quant_recipe_names();

// The recipe's type for this tensor, or nullopt when the recipe leaves it to the mix (or it is not quantized).
std::optional<GgmlType> recipe_tensor_type(const QuantRecipe& recipe, const std::string& name,
                                           const QuantModelInfo& model);

// A model known by shape only: its hyperparameters and every tensor with the type of its reference GGUF.
struct CatalogModel {
  std::string name;
  std::string description;
  QuantModelInfo info;
  std::vector<PlanInput> tensors;
};
// "deepseek-r1" (also "deepseek-v3", same shapes): DeepSeek-R1 671B as llama.cpp's converter lays it out in the
// BF16 GGUF the published quantizations start from (attn_kv_b unsplit). nullopt for an unknown name.
std::optional<CatalogModel> catalog_model(std::string_view name);
std::string catalog_model_names();

}  // namespace r1
