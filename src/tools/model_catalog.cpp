// The model catalog and quantization recipe rows, and the tensor lists they imply.
//
// Shapes are the config.json facts of each Hugging Face repository (hidden_size, intermediate_size,
// num_hidden_layers, num_attention_heads, num_key_value_heads, vocab_size, tie_word_embeddings,
// max_position_embeddings; for DeepSeek-V3/R1 also q_lora_rank, kv_lora_rank, qk_rope_head_dim,
// qk_nope_head_dim, v_head_dim, n_routed_experts, n_shared_experts, num_experts_per_tok,
// moe_intermediate_size, first_k_dense_replace).
#include "model_catalog.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "error.h"
#include "quantize_plan.h"
#include "quantize_recipes.h"

namespace r1::plan {
namespace {

constexpr uint64_t kGBytes = 1'000'000'000ull;

// Published Q4_K_M sizes: the tags of ollama.com/library/deepseek-r1 (1.1 GB, 4.7 GB, 4.9 GB, 9.0 GB, 20 GB,
// 43 GB, 404 GB), all Q4_K_M GGUF files.
constexpr CatalogModel kModels[] = {
    {.id = "deepseek-r1:1.5b", .hf_repo = "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", .arch = "qwen2",
     .n_layer = 28, .n_embd = 1536, .n_ff = 8960, .n_head = 12, .n_head_kv = 2, .head_dim = 128, .n_vocab = 151936,
     .n_ctx_train = 131072, .qkv_bias = true, .tied_embeddings = false, .q_lora_rank = 0, .kv_lora_rank = 0,
     .rope_dim = 0, .nope_dim = 0, .n_expert = 0, .n_expert_shared = 0, .n_expert_used = 0, .n_ff_expert = 0,
     .n_dense_lead = 0, .published_q4_k_m_bytes = 11 * kGBytes / 10,
     .source = "config.json of DeepSeek-R1-Distill-Qwen-1.5B (Qwen2.5-Math-1.5B shape)"},
    {.id = "deepseek-r1:7b", .hf_repo = "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", .arch = "qwen2",
     .n_layer = 28, .n_embd = 3584, .n_ff = 18944, .n_head = 28, .n_head_kv = 4, .head_dim = 128, .n_vocab = 152064,
     .n_ctx_train = 131072, .qkv_bias = true, .tied_embeddings = false, .q_lora_rank = 0, .kv_lora_rank = 0,
     .rope_dim = 0, .nope_dim = 0, .n_expert = 0, .n_expert_shared = 0, .n_expert_used = 0, .n_ff_expert = 0,
     .n_dense_lead = 0, .published_q4_k_m_bytes = 47 * kGBytes / 10,
     .source = "config.json of DeepSeek-R1-Distill-Qwen-7B (Qwen2.5-Math-7B shape)"},
    {.id = "deepseek-r1:8b", .hf_repo = "deepseek-ai/DeepSeek-R1-Distill-Llama-8B", .arch = "llama",
     .n_layer = 32, .n_embd = 4096, .n_ff = 14336, .n_head = 32, .n_head_kv = 8, .head_dim = 128, .n_vocab = 128256,
     .n_ctx_train = 131072, .qkv_bias = false, .tied_embeddings = false, .q_lora_rank = 0, .kv_lora_rank = 0,
     .rope_dim = 0, .nope_dim = 0, .n_expert = 0, .n_expert_shared = 0, .n_expert_used = 0, .n_ff_expert = 0,
     .n_dense_lead = 0, .published_q4_k_m_bytes = 49 * kGBytes / 10,
     .source = "config.json of DeepSeek-R1-Distill-Llama-8B (Llama-3.1-8B shape)"},
    {.id = "deepseek-r1:14b", .hf_repo = "deepseek-ai/DeepSeek-R1-Distill-Qwen-14B", .arch = "qwen2",
     .n_layer = 48, .n_embd = 5120, .n_ff = 13824, .n_head = 40, .n_head_kv = 8, .head_dim = 128, .n_vocab = 152064,
     .n_ctx_train = 131072, .qkv_bias = true, .tied_embeddings = false, .q_lora_rank = 0, .kv_lora_rank = 0,
     .rope_dim = 0, .nope_dim = 0, .n_expert = 0, .n_expert_shared = 0, .n_expert_used = 0, .n_ff_expert = 0,
     .n_dense_lead = 0, .published_q4_k_m_bytes = 9 * kGBytes,
     .source = "config.json of DeepSeek-R1-Distill-Qwen-14B (Qwen2.5-14B shape)"},
    {.id = "deepseek-r1:32b", .hf_repo = "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B", .arch = "qwen2",
     .n_layer = 64, .n_embd = 5120, .n_ff = 27648, .n_head = 40, .n_head_kv = 8, .head_dim = 128, .n_vocab = 152064,
     .n_ctx_train = 131072, .qkv_bias = true, .tied_embeddings = false, .q_lora_rank = 0, .kv_lora_rank = 0,
     .rope_dim = 0, .nope_dim = 0, .n_expert = 0, .n_expert_shared = 0, .n_expert_used = 0, .n_ff_expert = 0,
     .n_dense_lead = 0, .published_q4_k_m_bytes = 20 * kGBytes,
     .source = "config.json of DeepSeek-R1-Distill-Qwen-32B (Qwen2.5-32B shape)"},
    {.id = "deepseek-r1:70b", .hf_repo = "deepseek-ai/DeepSeek-R1-Distill-Llama-70B", .arch = "llama",
     .n_layer = 80, .n_embd = 8192, .n_ff = 28672, .n_head = 64, .n_head_kv = 8, .head_dim = 128, .n_vocab = 128256,
     .n_ctx_train = 131072, .qkv_bias = false, .tied_embeddings = false, .q_lora_rank = 0, .kv_lora_rank = 0,
     .rope_dim = 0, .nope_dim = 0, .n_expert = 0, .n_expert_shared = 0, .n_expert_used = 0, .n_ff_expert = 0,
     .n_dense_lead = 0, .published_q4_k_m_bytes = 43 * kGBytes,
     .source = "config.json of DeepSeek-R1-Distill-Llama-70B (Llama-3.3-70B-Instruct shape)"},
    // 61 layers (the 62nd, next-token prediction, is not run by llama.cpp-style engines and is left out of
    // the usual GGUF conversions), 128 heads, MLA: q_lora 1536, kv_lora 512, rope 64, nope 128, v 128;
    // 256 routed experts + 1 shared, 8 used, 2048 wide; the first 3 layers dense (18432 wide).
    {.id = "deepseek-r1:671b", .hf_repo = "deepseek-ai/DeepSeek-R1", .arch = "deepseek2",
     .n_layer = 61, .n_embd = 7168, .n_ff = 18432, .n_head = 128, .n_head_kv = 128, .head_dim = 128,
     .n_vocab = 129280, .n_ctx_train = 163840, .qkv_bias = false, .tied_embeddings = false, .q_lora_rank = 1536,
     .kv_lora_rank = 512, .rope_dim = 64, .nope_dim = 128, .n_expert = 256, .n_expert_shared = 1,
     .n_expert_used = 8, .n_ff_expert = 2048, .n_dense_lead = 3, .published_q4_k_m_bytes = 404 * kGBytes,
     .source = "config.json of deepseek-ai/DeepSeek-R1 (DeepSeek-V3 shape)"},
};

// Dynamic recipes: the routed experts (~97 % of R1's weights) at 1.5-2.6 bits, attention, dense layers and
// the shared expert at 4-6 bits, as Unsloth describes its DeepSeek-R1 dynamic quants (blog "Run DeepSeek R1
// Dynamic 1.58-bit", Jan 2025: 131, 158, 183 and 212 GB).
constexpr QuantRecipe kRecipes[] = {
    {"F16", "16-bit floats", "F16", false, 0},
    {"Q8_0", "8.5 bits per weight", "Q8_0", false, 0},
    {"Q6_K", "6.6 bits per weight", "Q6_K", false, 0},
    {"Q5_K_M", "5-bit k-quant, attn_v/ffn_down partly 6-bit", "Q5_K_M", false, 0},
    {"Q4_K_M", "4-bit k-quant, attn_v/ffn_down partly 6-bit", "Q4_K_M", false, 404 * kGBytes},
    {"Q4_K_S", "4-bit k-quant", "Q4_K_S", false, 0},
    {"IQ4_XS", "4.25-bit i-quant", "IQ4_XS", false, 0},
    {"Q3_K_M", "3-bit k-quant, attn_v/ffn_down/attn_output 4-bit", "Q3_K_M", false, 0},
    {"Q2_K", "2-bit k-quant, attn_v/ffn_down/attn_output 3-bit", "Q2_K", false, 0},
    {"UD-Q2_K_XL", "dynamic 2.51-bit: routed experts Q2_K, the rest 4-6 bits", "r1-2.51bit", true, 212 * kGBytes},
    {"UD-IQ2_XXS", "dynamic 2.22-bit: routed experts IQ2_XXS, the rest 4-6 bits", "r1-2.22bit", true, 183 * kGBytes},
    {"UD-IQ1_M", "dynamic 1.73-bit: routed experts IQ1_M, the rest 4-6 bits", "r1-1.73bit", true, 158 * kGBytes},
    {"UD-IQ1_S", "dynamic 1.58-bit: routed experts IQ1_S, the rest 4-6 bits", "r1-1.58bit", true, 131 * kGBytes},
};

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

class ShapeListBuilder {
 public:
  // A matrix with n_in inputs (the row length) and n_out outputs; count > 0: a 3-D stack of `count` (experts).
  void matrix(const std::string& name, int64_t n_in, int64_t n_out, int layer, int64_t count = 0) {
    std::vector<uint64_t> dims = {static_cast<uint64_t>(n_in), static_cast<uint64_t>(n_out)};
    if (count > 0) dims.push_back(static_cast<uint64_t>(count));
    out_.push_back({name, std::move(dims), layer, true});
  }
  // Kept at F32 whatever the recipe (norms, biases, the router): dims fastest first.
  void f32(const std::string& name, std::vector<uint64_t> dims, int layer) {
    out_.push_back({name, std::move(dims), layer, false});
  }
  std::vector<CatalogTensor> take() { return std::move(out_); }

 private:
  std::vector<CatalogTensor> out_;
};

}  // namespace

std::span<const CatalogModel> model_catalog() { return kModels; }

const CatalogModel* find_model(std::string_view name) {
  for (const CatalogModel& m : kModels) {
    const std::string_view tag = m.id.substr(m.id.find(':') + 1);
    const std::string_view repo_name = m.hf_repo.substr(m.hf_repo.find('/') + 1);
    const std::string_view short_name =
        iequals(repo_name.substr(0, 9), "DeepSeek-") && repo_name.size() > 9 ? repo_name.substr(9) : repo_name;
    if (iequals(name, m.id) || iequals(name, tag) || iequals(name, m.hf_repo) || iequals(name, repo_name) ||
        iequals(name, short_name)) {
      return &m;
    }
  }
  return nullptr;
}

std::span<const QuantRecipe> quant_recipes() { return kRecipes; }

const QuantRecipe* find_recipe(std::string_view name) {
  for (const QuantRecipe& r : kRecipes) {
    if (iequals(name, r.name)) return &r;
  }
  return nullptr;
}

std::vector<const QuantRecipe*> recipes_for(const CatalogModel& model) {
  std::vector<const QuantRecipe*> out;
  for (const QuantRecipe& r : kRecipes) {
    if (!r.moe_only || model.is_moe()) out.push_back(&r);
  }
  return out;
}

std::string_view default_quant(const CatalogModel& model) { return model.is_moe() ? "UD-IQ1_S" : "Q4_K_M"; }

ModelShapeFacts catalog_shape(const CatalogModel& m) {
  ModelShapeFacts s;
  s.arch = std::string(m.arch);
  s.n_layer = m.n_layer;
  s.n_embd = m.n_embd;
  s.n_vocab = m.n_vocab;
  s.n_head = m.n_head;
  s.n_head_kv = m.n_head_kv;
  s.mla = m.kv_lora_rank > 0;
  s.head_dim_k = s.mla ? static_cast<int>(m.nope_dim + m.rope_dim) : m.head_dim;
  s.head_dim_v = m.head_dim;
  s.kv_lora_rank = m.kv_lora_rank;
  s.n_rot = m.rope_dim;
  s.n_expert = m.n_expert;
  s.n_expert_used = m.n_expert_used;
  s.n_ff = m.n_ff;
  s.n_ff_expert = m.n_ff_expert;
  s.n_ctx_train = m.n_ctx_train;
  return s;
}

std::vector<CatalogTensor> catalog_tensor_shapes(const CatalogModel& m) {
  ShapeListBuilder b;
  const int64_t d = m.n_embd;
  const auto u = [](int64_t v) { return static_cast<uint64_t>(v); };
  b.matrix("token_embd.weight", d, m.n_vocab, -1);
  for (int i = 0; i < m.n_layer; ++i) {
    const std::string p = fmt::format("blk.{}.", i);
    b.f32(p + "attn_norm.weight", {u(d)}, i);
    b.f32(p + "ffn_norm.weight", {u(d)}, i);
    if (m.kv_lora_rank > 0) {
      // MLA (legacy GGUF layout): q = W_qb · norm(W_qa · x); [c_kv, k_pe] = W_kva · x; [k_nope, v] = W_kvb · c_kv.
      const int64_t qk = m.nope_dim + m.rope_dim;
      b.matrix(p + "attn_q_a.weight", d, m.q_lora_rank, i);
      b.f32(p + "attn_q_a_norm.weight", {u(m.q_lora_rank)}, i);
      b.matrix(p + "attn_q_b.weight", m.q_lora_rank, m.n_head * qk, i);
      b.matrix(p + "attn_kv_a_mqa.weight", d, m.kv_lora_rank + m.rope_dim, i);
      b.f32(p + "attn_kv_a_norm.weight", {u(m.kv_lora_rank)}, i);
      b.matrix(p + "attn_kv_b.weight", m.kv_lora_rank, m.n_head * (m.nope_dim + m.head_dim), i);
      b.matrix(p + "attn_output.weight", m.n_head * m.head_dim, d, i);
    } else {
      const int64_t q = static_cast<int64_t>(m.n_head) * m.head_dim;
      const int64_t kv = static_cast<int64_t>(m.n_head_kv) * m.head_dim;
      b.matrix(p + "attn_q.weight", d, q, i);
      b.matrix(p + "attn_k.weight", d, kv, i);
      b.matrix(p + "attn_v.weight", d, kv, i);
      if (m.qkv_bias) {
        b.f32(p + "attn_q.bias", {u(q)}, i);
        b.f32(p + "attn_k.bias", {u(kv)}, i);
        b.f32(p + "attn_v.bias", {u(kv)}, i);
      }
      b.matrix(p + "attn_output.weight", q, d, i);
    }
    if (!m.is_moe() || i < m.n_dense_lead) {
      b.matrix(p + "ffn_gate.weight", d, m.n_ff, i);
      b.matrix(p + "ffn_up.weight", d, m.n_ff, i);
      b.matrix(p + "ffn_down.weight", m.n_ff, d, i);
    } else {
      b.f32(p + "ffn_gate_inp.weight", {u(d), u(m.n_expert)}, i);  // router, kept at F32
      b.f32(p + "exp_probs_b.bias", {u(m.n_expert)}, i);
      b.matrix(p + "ffn_gate_exps.weight", d, m.n_ff_expert, i, m.n_expert);
      b.matrix(p + "ffn_up_exps.weight", d, m.n_ff_expert, i, m.n_expert);
      b.matrix(p + "ffn_down_exps.weight", m.n_ff_expert, d, i, m.n_expert);
      const int64_t shared = m.n_ff_expert * m.n_expert_shared;
      b.matrix(p + "ffn_gate_shexp.weight", d, shared, i);
      b.matrix(p + "ffn_up_shexp.weight", d, shared, i);
      b.matrix(p + "ffn_down_shexp.weight", shared, d, i);
    }
  }
  b.f32("output_norm.weight", {u(d)}, -1);
  if (!m.tied_embeddings) b.matrix("output.weight", d, m.n_vocab, -1);
  return b.take();
}

std::vector<PlanTensor> catalog_tensors(const CatalogModel& m, const QuantRecipe& recipe) {
  std::vector<PlanInput> inputs;
  for (CatalogTensor& t : catalog_tensor_shapes(m)) inputs.push_back(PlanInput{std::move(t.name), GgmlType::kF32, std::move(t.dims)});
  QuantizePlanOptions options;
  const r1::QuantRecipe* dynamic = r1::find_quant_recipe(recipe.quantizer);
  options.recipe = dynamic;
  options.mix = find_quant_mix(dynamic != nullptr ? dynamic->mix : recipe.quantizer);
  if (options.mix == nullptr) throw Error(fmt::format("quantization {} names no mix or recipe '{}'", recipe.name, recipe.quantizer));
  options.has_imatrix = true;  // published low-bit files are made with an importance matrix
  const QuantModelInfo info{.arch = std::string(m.arch), .n_layer = m.n_layer, .n_head = m.n_head,
                            .n_head_kv = m.n_head_kv, .n_expert = m.n_expert, .n_leading_dense = m.n_dense_lead};
  std::vector<PlanTensor> out;
  for (const PlannedTensor& t : quantize_plan(inputs, info, options).tensors) {
    out.push_back({t.name, t.n_elements, t.dst_bytes, t.dst_type});
  }
  return out;
}

ModelProfile profile_from_catalog(const CatalogModel& model, const QuantRecipe& recipe) {
  if (recipe.moe_only && !model.is_moe()) {
    throw Error(fmt::format("{} is a recipe for mixture-of-experts models; {} is dense", recipe.name, model.id));
  }
  return profile_from_tensors(std::string(model.id), std::string(recipe.name), catalog_shape(model),
                              catalog_tensors(model, recipe));
}

}  // namespace r1::plan
