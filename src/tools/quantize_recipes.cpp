// The R1 recipe table and the DeepSeek-R1 shape catalog. What each tier assigns is documented, with its sources
// and assumptions, in docs/QUANTIZATION.md ("Dynamic R1 recipes").
#include "quantize_recipes.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace r1 {
namespace {

using T = GgmlType;

// Common to all tiers (from the type counts of Unsloth's R1 UD-Q2_K_XL file: 306 Q4_K = token_embd + every
// attention matrix; 184 Q6_K = output + every shared expert + the dense FFN): attention Q4_K, dense FFN and
// shared experts Q6_K, token_embd Q4_K, output Q6_K; routers, norms and biases stay F32.
constexpr QuantRecipe kRecipes[] = {
    {"r1-1.58bit", "IQ1_S", "routed experts IQ1_S, first 3 MoE ffn_down IQ2_XXS (Unsloth UD-IQ1_S, 131GB)", 131,
     T::kIQ1_S, T::kIQ2_XXS, T::kIQ1_S, 3, T::kQ4_K, T::kQ6_K, T::kQ6_K, T::kQ4_K, T::kQ6_K},
    {"r1-1.73bit", "IQ1_M", "routed experts IQ1_M, every ffn_down_exps IQ2_XXS (Unsloth UD-IQ1_M, 158GB)", 158,
     T::kIQ1_M, T::kIQ2_XXS, T::kIQ2_XXS, 3, T::kQ4_K, T::kQ6_K, T::kQ6_K, T::kQ4_K, T::kQ6_K},
    {"r1-2.22bit", "IQ2_XXS", "routed experts IQ2_XXS, first 3 MoE ffn_down Q2_K (Unsloth UD-IQ2_XXS, 183GB)", 183,
     T::kIQ2_XXS, T::kQ2_K, T::kIQ2_XXS, 3, T::kQ4_K, T::kQ6_K, T::kQ6_K, T::kQ4_K, T::kQ6_K},
    {"r1-2.51bit", "Q2_K", "routed experts Q2_K, first 3 MoE ffn_down Q3_K (Unsloth UD-Q2_K_XL, 212GB)", 212,
     T::kQ2_K, T::kQ3_K, T::kQ2_K, 3, T::kQ4_K, T::kQ6_K, T::kQ6_K, T::kQ4_K, T::kQ6_K},
};

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

bool starts_with(std::string_view s, std::string_view head) { return s.substr(0, head.size()) == head; }

}  // namespace

std::span<const QuantRecipe> all_quant_recipes() { return kRecipes; }

const QuantRecipe* find_quant_recipe(std::string_view name) {
  for (const QuantRecipe& r : kRecipes) {
    if (iequals(r.name, name)) return &r;
  }
  return nullptr;
}

std::string quant_recipe_names() {
  std::string out;
  for (const QuantRecipe& r : kRecipes) out += (out.empty() ? "" : ", ") + std::string(r.name);
  return out;
}

std::optional<GgmlType> recipe_tensor_type(const QuantRecipe& r, const std::string& name, const QuantModelInfo& m) {
  if (name == "token_embd.weight") return r.token_embd;
  if (name == "output.weight") return r.output;
  int layer = -1;
  int consumed = 0;
  if (std::sscanf(name.c_str(), "blk.%d.%n", &layer, &consumed) != 1 || consumed == 0) return std::nullopt;
  const std::string_view role = std::string_view(name).substr(static_cast<size_t>(consumed));
  if (role.find("_norm") != std::string_view::npos || starts_with(role, "ffn_gate_inp") ||
      starts_with(role, "exp_probs_b")) {
    return std::nullopt;  // never quantized
  }
  if (starts_with(role, "attn_")) return r.attention;
  if (role.find("_shexp") != std::string_view::npos) return r.shared_experts;
  if (starts_with(role, "ffn_gate_exps") || starts_with(role, "ffn_up_exps")) return r.experts_gate_up;
  if (starts_with(role, "ffn_down_exps")) {
    const int first_moe = m.n_leading_dense;
    return layer < first_moe + r.n_down_first ? r.experts_down_first : r.experts_down_rest;
  }
  if (starts_with(role, "ffn_gate.") || starts_with(role, "ffn_up.") || starts_with(role, "ffn_down.")) {
    return r.dense_ffn;
  }
  return std::nullopt;
}

std::optional<CatalogModel> catalog_model(std::string_view name) {
  if (!iequals(name, "deepseek-r1") && !iequals(name, "deepseek-v3")) return std::nullopt;
  // config.json of deepseek-ai/DeepSeek-R1 (identical for V3): hidden 7168, 61 layers (3 dense), 128 heads,
  // q_lora_rank 1536, kv_lora_rank 512, qk_nope 128 + qk_rope 64, v_head 128, 256 routed experts of 2048 and
  // one shared, dense intermediate 18432, vocabulary 129280. The MTP layer (61) is not converted.
  constexpr uint64_t kEmbd = 7168, kLayers = 61, kDense = 3, kHeads = 128, kQRank = 1536, kKvRank = 512,
                     kNope = 128, kRope = 64, kV = 128, kExperts = 256, kExpertFf = 2048, kFf = 18432,
                     kVocab = 129280;
  CatalogModel m;
  m.name = "deepseek-r1";
  m.description = "DeepSeek-R1 671B (same shapes as DeepSeek-V3), BF16 GGUF layout with attn_kv_b unsplit";
  m.info = QuantModelInfo{.arch = "deepseek2", .n_layer = static_cast<int>(kLayers), .n_head = kHeads,
                          .n_head_kv = kHeads, .n_expert = kExperts, .n_leading_dense = kDense};
  auto add = [&](std::string tensor, GgmlType type, std::vector<uint64_t> dims) {
    m.tensors.push_back(PlanInput{std::move(tensor), type, std::move(dims)});
  };
  add("token_embd.weight", T::kBF16, {kEmbd, kVocab});
  add("output_norm.weight", T::kF32, {kEmbd});
  add("output.weight", T::kBF16, {kEmbd, kVocab});
  for (uint64_t l = 0; l < kLayers; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    add(b + "attn_norm.weight", T::kF32, {kEmbd});
    add(b + "attn_q_a_norm.weight", T::kF32, {kQRank});
    add(b + "attn_kv_a_norm.weight", T::kF32, {kKvRank});
    add(b + "attn_q_a.weight", T::kBF16, {kEmbd, kQRank});
    add(b + "attn_q_b.weight", T::kBF16, {kQRank, kHeads * (kNope + kRope)});
    add(b + "attn_kv_a_mqa.weight", T::kBF16, {kEmbd, kKvRank + kRope});
    add(b + "attn_kv_b.weight", T::kBF16, {kKvRank, kHeads * (kNope + kV)});
    add(b + "attn_output.weight", T::kBF16, {kHeads * kV, kEmbd});
    add(b + "ffn_norm.weight", T::kF32, {kEmbd});
    if (l < kDense) {
      add(b + "ffn_gate.weight", T::kBF16, {kEmbd, kFf});
      add(b + "ffn_up.weight", T::kBF16, {kEmbd, kFf});
      add(b + "ffn_down.weight", T::kBF16, {kFf, kEmbd});
    } else {
      add(b + "ffn_gate_inp.weight", T::kF32, {kEmbd, kExperts});
      add(b + "exp_probs_b.bias", T::kF32, {kExperts});
      add(b + "ffn_gate_exps.weight", T::kBF16, {kEmbd, kExpertFf, kExperts});
      add(b + "ffn_up_exps.weight", T::kBF16, {kEmbd, kExpertFf, kExperts});
      add(b + "ffn_down_exps.weight", T::kBF16, {kExpertFf, kEmbd, kExperts});
      add(b + "ffn_gate_shexp.weight", T::kBF16, {kEmbd, kExpertFf});
      add(b + "ffn_up_shexp.weight", T::kBF16, {kEmbd, kExpertFf});
      add(b + "ffn_down_shexp.weight", T::kBF16, {kExpertFf, kEmbd});
    }
  }
  return m;
}

std::string catalog_model_names() { return "deepseek-r1 (alias deepseek-v3)"; }

}  // namespace r1
