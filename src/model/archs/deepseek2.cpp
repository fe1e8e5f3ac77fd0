// DeepSeek-V2/V3/R1 forward pass. References: DeepSeek-V3 technical report (arXiv 2412.19437) §2.1 and the
// Hugging Face modeling_deepseek.py (DeepseekV3Attention, MoEGate, DeepseekV3MoE); numerics follow llama.cpp's
// deepseek2 graph where its choices change results (activation rounding, YaRN attention scale, routing order).
//
// Attention is multi-head latent attention over the latent cache (layers/mla_attention.h: the absorbed form,
// or for legacy files' prompts per-head K and V rebuilt for one micro-batch). Legacy files (one attn_kv_b)
// get k_b and v_b derived from attn_kv_b at load.
#include "deepseek2.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <deque>
#include <vector>

#include "backend.h"
#include "error.h"
#include "half.h"
#include "layers/mla_attention.h"
#include "layers/moe_experts.h"
#include "layers/moe_router.h"
#include "mla_cache.h"
#include "model_weights.h"
#include "quant_row.h"

namespace r1 {
namespace {

struct Deepseek2Config {
  int n_layer = 0;          // trunk layers run by forward (block_count minus MTP/nextn layers)
  int n_layer_nextn = 0;    // multi-token-prediction layers stored after the trunk (recognized, not run)
  int64_t n_embd = 0;
  int n_head = 0;
  int64_t n_ff = 0;         // dense feed-forward width
  int n_dense_lead = 0;     // leading dense layers
  int64_t q_lora_rank = 0;  // 0: queries through one attn_q matrix (V2-Lite)
  int64_t kv_lora_rank = 0;
  int head_k = 0;           // per-head query/key size: nope + rope
  int head_v = 0;           // per-head value size
  int n_rot = 0;            // rope part of the key (shared by all heads)
  int n_nope = 0;
  bool split_layout = false;  // attn_k_b / attn_v_b in the file (else legacy attn_kv_b)
  int n_expert = 0;
  int n_expert_used = 0;
  int n_expert_shared = 0;
  int64_t n_ff_exp = 0;
  int64_t n_vocab = 0;
  int64_t n_ctx_train = 0;
  float rms_eps = 1e-6f;
  float kq_scale = 1.0f;
  RopeParams rope;
  RouterParams router;      // selection_bias is per layer (filled at bind time)
};

[[noreturn]] void config_error(const GgufSet& file, const std::string& what, const std::string& key = "") {
  Error e(what);
  e.file(file.parts().front().path());
  if (!key.empty()) e.key(key);
  throw e;
}

Deepseek2Config read_config(const GgufSet& file) {
  const GgufMetadata& m = file.metadata();
  const std::string a = "deepseek2.";
  Deepseek2Config c;
  const auto u = [&](const std::string& key, uint64_t fallback) {
    return m.find_uint(a + key).value_or(fallback);
  };
  const int block_count = static_cast<int>(m.get_u32(a + "block_count"));
  c.n_layer_nextn = static_cast<int>(u("nextn_predict_layers", 0));
  c.n_layer = block_count - c.n_layer_nextn;
  c.n_embd = static_cast<int64_t>(m.get_u32(a + "embedding_length"));
  c.n_head = static_cast<int>(m.get_u32(a + "attention.head_count"));
  c.n_ff = static_cast<int64_t>(u("feed_forward_length", 0));
  c.n_dense_lead = static_cast<int>(u("leading_dense_block_count", 0));
  c.q_lora_rank = static_cast<int64_t>(u("attention.q_lora_rank", 0));
  c.kv_lora_rank = static_cast<int64_t>(m.get_u32(a + "attention.kv_lora_rank"));
  c.n_rot = static_cast<int>(m.get_u32(a + "rope.dimension_count"));
  // The split layout declares the per-head sizes under *_mla keys (key_length is then kv_lora_rank + n_rot);
  // the legacy layout declares them as key_length / value_length.
  const auto k_mla = m.find_uint(a + "attention.key_length_mla");
  const auto v_mla = m.find_uint(a + "attention.value_length_mla");
  c.split_layout = k_mla.has_value() && v_mla.has_value();
  c.head_k = static_cast<int>(c.split_layout ? *k_mla : m.get_u32(a + "attention.key_length"));
  c.head_v = static_cast<int>(c.split_layout ? *v_mla : m.get_u32(a + "attention.value_length"));
  c.n_nope = c.head_k - c.n_rot;
  c.n_expert = static_cast<int>(u("expert_count", 0));
  c.n_expert_used = static_cast<int>(u("expert_used_count", 0));
  c.n_expert_shared = static_cast<int>(u("expert_shared_count", 0));
  c.n_ff_exp = static_cast<int64_t>(u("expert_feed_forward_length", 0));
  c.n_ctx_train = static_cast<int64_t>(u("context_length", 4096));
  c.rms_eps = static_cast<float>(m.find_float(a + "attention.layer_norm_rms_epsilon").value_or(1e-6));

  if (c.n_layer <= 0 || c.n_layer > 4096 || c.n_layer_nextn < 0 || c.n_embd <= 0 || c.n_head <= 0 ||
      c.n_head > 4096 || c.kv_lora_rank <= 0 || c.n_rot <= 0 || c.n_rot % 2 != 0 || c.n_nope <= 0 ||
      c.head_v <= 0 || c.n_dense_lead < 0 || c.n_dense_lead > c.n_layer) {
    config_error(file, fmt::format("implausible deepseek2 hyperparameters: {} layers, {} heads, kv_lora_rank {}, "
                                   "key {} (rope {}), value {}, {} dense layers",
                                   c.n_layer, c.n_head, c.kv_lora_rank, c.head_k, c.n_rot, c.head_v, c.n_dense_lead));
  }
  if (c.n_layer > c.n_dense_lead) {
    if (c.n_expert <= 0 || c.n_expert_used <= 0 || c.n_expert_used > c.n_expert || c.n_ff_exp <= 0 ||
        c.n_expert > 65536) {
      config_error(file, fmt::format("mixture-of-experts layers need expert_count ({}) >= expert_used_count ({}) > 0 "
                                     "and expert_feed_forward_length ({}) > 0",
                                     c.n_expert, c.n_expert_used, c.n_ff_exp));
    }
  }
  if (c.n_dense_lead > 0 && c.n_ff <= 0) config_error(file, "dense layers need feed_forward_length", a + "feed_forward_length");

  // Router. expert_gating_func: 1 softmax (V2, also when absent), 2 sigmoid (V3/R1).
  RouterParams& r = c.router;
  r.n_expert = c.n_expert;
  r.n_used = c.n_expert_used;
  const uint64_t gating = u("expert_gating_func", 1);
  if (gating != 1 && gating != 2) {
    config_error(file, fmt::format("expert gating function {} is not supported (1 softmax, 2 sigmoid)", gating),
                 a + "expert_gating_func");
  }
  r.gating = gating == 2 ? ExpertGating::kSigmoid : ExpertGating::kSoftmax;
  r.normalize = m.find_bool(a + "expert_weights_norm").value_or(false);
  r.scale = static_cast<float>(m.find_float(a + "expert_weights_scale").value_or(0.0));
  // Group-limited routing only when the file declares groups (as llama.cpp: absent keys mean no limit).
  r.n_group = static_cast<int>(u("expert_group_count", 0));
  r.n_group_used = static_cast<int>(u("expert_group_used_count", 0));
  if (r.n_group > 1) {
    if (c.n_expert % r.n_group != 0 || r.n_group_used <= 0 || r.n_group_used > r.n_group ||
        c.n_expert / r.n_group < 2 || r.n_group_used * (c.n_expert / r.n_group) < c.n_expert_used) {
      config_error(file, fmt::format("expert groups do not fit: {} experts in {} groups, {} groups used, {} experts used",
                                     c.n_expert, r.n_group, r.n_group_used, c.n_expert_used),
                   a + "expert_group_count");
    }
  }

  // Rope: "normal" style (neighbouring pairs) on the n_rot rope dimensions, with YaRN as the file gives it.
  RopeParams& rope = c.rope;
  rope.style = RopeStyle::kNormal;
  rope.n_rot = c.n_rot;
  rope.freq_base = static_cast<float>(m.find_float(a + "rope.freq_base").value_or(10000.0));
  const std::string scaling = m.find_string(a + "rope.scaling.type").value_or("linear");
  const float factor_key = static_cast<float>(m.find_float(a + "rope.scaling.factor").value_or(0.0));
  rope.freq_scale = (scaling == "none" || factor_key == 0.0f) ? 1.0f : 1.0f / factor_key;
  rope.n_ctx_orig = static_cast<int>(u("rope.scaling.original_context_length", static_cast<uint64_t>(c.n_ctx_train)));
  rope.beta_fast = static_cast<float>(m.find_float(a + "rope.scaling.yarn_beta_fast").value_or(32.0));
  rope.beta_slow = static_cast<float>(m.find_float(a + "rope.scaling.yarn_beta_slow").value_or(1.0));
  rope.ext_factor = scaling == "yarn" ? 1.0f : 0.0f;
  if (scaling != "yarn" && scaling != "linear" && scaling != "none") {
    config_error(file, fmt::format("rope scaling '{}' is not supported (yarn, linear, none)", scaling),
                 a + "rope.scaling.type");
  }
  // llama.cpp's converter stores mscale_all_dim divided by 10 as yarn_log_multiplier; undo that.
  const auto log_mul_key = m.find_float(a + "rope.scaling.yarn_log_multiplier");
  const float log_mul = log_mul_key ? static_cast<float>(*log_mul_key) / 0.1f : 0.0f;
  const float rope_attn_factor = static_cast<float>(m.find_float(a + "rope.scaling.attn_factor").value_or(1.0));
  // YaRN magnitude: the rope kernel multiplies cos/sin by attn_factor * (1 + 0.1 ln(factor)); the file's
  // mscale / mscale_all_dim ratio is folded into attn_factor and that kernel factor cancelled, and the
  // attention scale carries mscale(factor, mscale_all_dim)^2 (DeepSeek's softmax_scale). Same float
  // operations as llama.cpp, so the scale is bit-identical.
  float attn_factor = 1.0f;
  if (rope.ext_factor != 0.0f) {
    const auto get_mscale = [](float scale, float ms) { return scale <= 1.0f ? 1.0f : (0.1f * ms * std::log(scale) + 1.0f); };
    const float factor = 1.0f / rope.freq_scale;
    if (log_mul != 0.0f) {
      const float mscale = log_mul != 1.0f ? log_mul : 1.0f;
      attn_factor = get_mscale(factor, mscale) / get_mscale(factor, log_mul);
    } else {
      attn_factor = get_mscale(factor, 1.0f);
    }
    attn_factor *= 1.0f / (1.0f + 0.1f * std::log(factor));
  }
  attn_factor *= rope_attn_factor;
  rope.attn_factor = attn_factor;
  const float attn_factor_org = attn_factor * (1.0f + 0.1f * std::log(1.0f / rope.freq_scale));
  const float mscale = attn_factor_org * (1.0f + 0.1f * log_mul * std::log(1.0f / rope.freq_scale));
  c.kq_scale = mscale * mscale / std::sqrt(static_cast<float>(c.head_k));

  const GgufSet::Tensor* embd = file.find_tensor("token_embd.weight");
  if (embd == nullptr) throw Error("required tensor is missing").file(file.parts().front().path()).tensor("token_embd.weight");
  c.n_vocab = static_cast<int64_t>(embd->info->n_dims >= 2 ? embd->info->dims[1] : 0);
  return c;
}

// Views of the `count` 2-D slices [rows, cols] of a 3-D tensor with GGUF dims (cols, rows, count).
std::vector<WeightView> bind_stack(const GgufSet& file, const std::string& name, int64_t cols, int64_t rows, int64_t count) {
  const GgufSet::Tensor* t = file.find_tensor(name);
  if (t == nullptr) throw Error("required tensor is missing").file(file.parts().front().path()).tensor(name);
  const std::vector<uint64_t> expected = {static_cast<uint64_t>(cols), static_cast<uint64_t>(rows), static_cast<uint64_t>(count)};
  if (t->info->shape() != expected) {
    const auto text = [](const std::vector<uint64_t>& d) {
      std::string s = "(";
      for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
      return s + ")";
    };
    throw Error(fmt::format("has shape {} but the model's configuration needs {}", text(t->info->shape()), text(expected)))
        .file(file.parts()[t->part].path())
        .tensor(name);
  }
  const GgmlType type = t->info->type->type;
  const bool plain_float = type == GgmlType::kF32 || type == GgmlType::kF16 || type == GgmlType::kBF16;
  const auto rb = row_bytes(*t->info->type, static_cast<uint64_t>(cols));
  if (type == GgmlType::kQ8_K || type == GgmlType::kQ8_1 || (!t->info->type->quantized && !plain_float) || !rb) {
    throw Error(fmt::format("weights of type {} with rows of {} cannot be computed with", t->info->type->name, cols))
        .file(file.parts()[t->part].path())
        .tensor(name);
  }
  const uint8_t* base = file.tensor_data(*t).data();
  std::vector<WeightView> out;
  for (int64_t i = 0; i < count; ++i) {
    out.push_back(WeightView{.type = type, .data = base + static_cast<uint64_t>(i * rows) * *rb, .rows = rows, .cols = cols,
                             .row_bytes = *rb});
  }
  return out;
}

// Rows [begin, begin + n) of a matrix, as a matrix.
WeightView row_slice(const WeightView& w, int64_t begin, int64_t n) {
  WeightView s = w;
  s.data = w.data + static_cast<uint64_t>(begin) * w.row_bytes;
  s.rows = n;
  return s;
}


struct LayerWeights {
  const float* attn_norm = nullptr;
  MlaWeights attn;
  const float* ffn_norm = nullptr;
  bool moe = false;
  WeightView gate, up, down;          // dense layers
  WeightView gate_inp;                // [n_expert, n_embd] router
  const float* exp_probs_b = nullptr; // [n_expert] selection bias
  ExpertStack experts;
  WeightView gate_sh, up_sh, down_sh; // shared experts, [n_ff_exp * n_shared, n_embd] ...
};

class Deepseek2 final : public Model {
 public:
  Deepseek2(const GgufSet& file, const ModelOptions& options, const Placement& placement)
      : config_(read_config(file)), options_(options) {
    const Deepseek2Config& c = config_;
    mla_ = MlaShape{.n_head = c.n_head, .n_nope = c.n_nope, .n_rot = c.n_rot, .head_v = c.head_v,
                    .kv_lora_rank = c.kv_lora_rank, .q_lora_rank = c.q_lora_rank, .rms_eps = c.rms_eps,
                    .kq_scale = c.kq_scale, .rope = c.rope};
    mla_run_ = MlaRun{.cache_type = options.cache_type_k, .flash = options.flash_attention, .form = options.mla_form};
    const WeightBinder wb(file);
    token_embd_ = wb.matrix("token_embd.weight", c.n_embd, c.n_vocab);
    output_norm_ = wb.vector("output_norm.weight", c.n_embd);
    output_ = wb.has("output.weight") ? wb.matrix("output.weight", c.n_embd, c.n_vocab) : token_embd_;
    for (int il = 0; il < c.n_layer; ++il) layers_.push_back(bind_layer(file, wb, il));

    head_ = placement.head;
    layer_backends_ = placement.layers;
    if (layer_backends_.empty()) layer_backends_.assign(static_cast<size_t>(c.n_layer), head_);
    if (head_ == nullptr || layer_backends_.size() != static_cast<size_t>(c.n_layer) ||
        std::find(layer_backends_.begin(), layer_backends_.end(), nullptr) != layer_backends_.end()) {
      throw Error(fmt::format("placement must name a backend for the head and each of the {} layers", c.n_layer));
    }
    if (options.n_ctx <= 0 || options.n_seq <= 0 || options.ubatch <= 0) {
      throw Error(fmt::format("invalid context {} / sequences {} / micro-batch {}", options.n_ctx, options.n_seq,
                              options.ubatch));
    }
    // One latent row per position serves as both K and V, so the K cache type is the one that counts.
    if (options.cache_type_k != options.cache_type_v) {
      throw Error(fmt::format("the MLA latent cache holds keys and values in one row: K and V cache types must be "
                              "equal (got {} and {})",
                              type_info(options.cache_type_k).name, type_info(options.cache_type_v).name));
    }
    cache_ = std::make_unique<MlaCache>(MlaCache::Shape{.n_layer = c.n_layer,
                                                        .n_seq = options.n_seq,
                                                        .n_ctx = options.n_ctx,
                                                        .kv_lora_rank = c.kv_lora_rank,
                                                        .n_rot = c.n_rot,
                                                        .type = options.cache_type_k});
    info_.architecture = "deepseek2";
    info_.n_vocab = c.n_vocab;
    info_.n_ctx_train = c.n_ctx_train;
    info_.n_layer = c.n_layer;
    info_.n_embd = c.n_embd;
    // Only the latent and the shared rope key are cached: (kv_lora_rank + n_rot) values per token and layer.
    info_.kv_bytes_per_token = cache_->bytes_per_token();
    info_.kv_cache_layout = fmt::format("MLA latent {} + rope {} values ({}) x {} layers", c.kv_lora_rank, c.n_rot,
                                        type_info(options.cache_type_k).name, c.n_layer);
  }

  const ModelInfo& info() const override { return info_; }
  int32_t sequence_length(int32_t seq) const override { return cache_->length(seq); }

  void truncate_sequence(int32_t seq, int32_t pos) override {
    if (seq < 0 || seq >= options_.n_seq) throw Error(fmt::format("sequence {} does not exist", seq));
    cache_->set_length(seq, std::min(cache_->length(seq), std::max(0, pos)));
  }

  void forward(const Batch& batch, std::span<float> logits) override {
    validate(batch, logits);
    size_t logit_row = 0;
    for (size_t start = 0; start < batch.size(); start += static_cast<size_t>(options_.ubatch)) {
      const size_t end = std::min(batch.size(), start + static_cast<size_t>(options_.ubatch));
      run_ubatch(batch, start, end, logits, logit_row);
    }
  }

 private:
  LayerWeights bind_layer(const GgufSet& file, const WeightBinder& wb, int il) {
    const Deepseek2Config& c = config_;
    const std::string p = "blk." + std::to_string(il) + ".";
    const int64_t q_dim = static_cast<int64_t>(c.n_head) * c.head_k;
    LayerWeights l;
    l.attn_norm = wb.vector(p + "attn_norm.weight", c.n_embd);
    if (c.q_lora_rank > 0) {
      l.attn.q_a = wb.matrix(p + "attn_q_a.weight", c.n_embd, c.q_lora_rank);
      l.attn.q_a_norm = wb.vector(p + "attn_q_a_norm.weight", c.q_lora_rank);
      l.attn.q_b = wb.matrix(p + "attn_q_b.weight", c.q_lora_rank, q_dim);
    } else {
      l.attn.q = wb.matrix(p + "attn_q.weight", c.n_embd, q_dim);
    }
    l.attn.kv_a = wb.matrix(p + "attn_kv_a_mqa.weight", c.n_embd, c.kv_lora_rank + c.n_rot);
    l.attn.kv_a_norm = wb.vector(p + "attn_kv_a_norm.weight", c.kv_lora_rank);
    if (c.split_layout) {
      l.attn.k_b = bind_stack(file, p + "attn_k_b.weight", c.n_nope, c.kv_lora_rank, c.n_head);
      l.attn.v_b = bind_stack(file, p + "attn_v_b.weight", c.kv_lora_rank, c.head_v, c.n_head);
    } else {
      derive_k_b_v_b(wb.matrix(p + "attn_kv_b.weight", c.kv_lora_rank, static_cast<int64_t>(c.n_head) * (c.n_nope + c.head_v)), l.attn);
    }
    l.attn.wo = wb.matrix(p + "attn_output.weight", static_cast<int64_t>(c.n_head) * c.head_v, c.n_embd);
    l.ffn_norm = wb.vector(p + "ffn_norm.weight", c.n_embd);
    l.moe = il >= c.n_dense_lead;
    if (!l.moe) {
      l.gate = wb.matrix(p + "ffn_gate.weight", c.n_embd, c.n_ff);
      l.up = wb.matrix(p + "ffn_up.weight", c.n_embd, c.n_ff);
      l.down = wb.matrix(p + "ffn_down.weight", c.n_ff, c.n_embd);
      return l;
    }
    l.gate_inp = wb.matrix(p + "ffn_gate_inp.weight", c.n_embd, c.n_expert);
    l.exp_probs_b = wb.optional_vector(p + "exp_probs_b.bias", c.n_expert);
    if (wb.has(p + "ffn_gate_up_exps.weight")) {
      // Fused experts: each expert's rows are its gate rows, then its up rows.
      const auto fused = bind_stack(file, p + "ffn_gate_up_exps.weight", c.n_embd, 2 * c.n_ff_exp, c.n_expert);
      for (const WeightView& w : fused) {
        l.experts.gate.push_back(row_slice(w, 0, c.n_ff_exp));
        l.experts.up.push_back(row_slice(w, c.n_ff_exp, c.n_ff_exp));
      }
    } else {
      l.experts.gate = bind_stack(file, p + "ffn_gate_exps.weight", c.n_embd, c.n_ff_exp, c.n_expert);
      l.experts.up = bind_stack(file, p + "ffn_up_exps.weight", c.n_embd, c.n_ff_exp, c.n_expert);
    }
    l.experts.down = bind_stack(file, p + "ffn_down_exps.weight", c.n_ff_exp, c.n_embd, c.n_expert);
    if (c.n_expert_shared > 0) {
      const int64_t n_sh = c.n_ff_exp * c.n_expert_shared;
      l.gate_sh = wb.matrix(p + "ffn_gate_shexp.weight", c.n_embd, n_sh);
      l.up_sh = wb.matrix(p + "ffn_up_shexp.weight", c.n_embd, n_sh);
      l.down_sh = wb.matrix(p + "ffn_down_shexp.weight", n_sh, c.n_embd);
    }
    return l;
  }

  // Legacy layout: attn_kv_b [n_head * (nope + head_v), kv_lora_rank] holds per head nope key rows then value
  // rows. v_b[h] is the value rows as they are. k_b[h] is the transpose of the key rows, which no product reads
  // in place, so it is copied once at load: in the file's type for F32/F16/BF16 (exact), else as Q8_0 (the
  // activation format of the product anyway; 34 bytes per 32 values): 0.5 GiB for DeepSeek-R1's 61 layers
  // instead of 2 GiB in F32, and that many fewer bytes read per generated token. llama.cpp multiplies attn_kv_b
  // by the latent rounded to the weight's activation format; latent_rounding reproduces that.
  void derive_k_b_v_b(const WeightView& kv_b, MlaWeights& w) {
    const Deepseek2Config& c = config_;
    const int64_t r = c.kv_lora_rank;
    const bool plain = kv_b.type == GgmlType::kF32 || kv_b.type == GgmlType::kF16 || kv_b.type == GgmlType::kBF16;
    const GgmlType type = plain ? kv_b.type : (c.n_nope % 32 == 0 ? GgmlType::kQ8_0 : GgmlType::kF32);
    const uint64_t row_bytes = *r1::row_bytes(type_info(type), static_cast<uint64_t>(c.n_nope));
    std::vector<float> row(static_cast<size_t>(r));
    std::vector<float> kb(static_cast<size_t>(r * c.n_nope));  // [kv_lora_rank, nope] in F32
    for (int h = 0; h < c.n_head; ++h) {
      const int64_t base = static_cast<int64_t>(h) * (c.n_nope + c.head_v);
      for (int i = 0; i < c.n_nope; ++i) {
        weight_row_ref(kv_b, base + i, row.data());
        for (int64_t j = 0; j < r; ++j) kb[static_cast<size_t>(j * c.n_nope + i)] = row[static_cast<size_t>(j)];
      }
      std::vector<uint8_t>& stored = derived_.emplace_back(static_cast<size_t>(r) * row_bytes);
      quantize_rows(type, kb.data(), stored.data(), QuantizeRowsOptions{.n_rows = r, .n_per_row = c.n_nope});
      w.k_b.push_back(WeightView{.type = type, .data = stored.data(), .rows = r, .cols = c.n_nope, .row_bytes = row_bytes});
      w.v_b.push_back(row_slice(kv_b, base + c.n_nope, c.head_v));
    }
    w.kv_b = kv_b;
    w.latent_rounding = kv_b.type;
  }

  void validate(const Batch& b, std::span<float> logits) const {
    std::vector<int32_t> lengths(static_cast<size_t>(options_.n_seq));
    for (int s = 0; s < options_.n_seq; ++s) lengths[static_cast<size_t>(s)] = cache_->length(s);
    validate_batch(b, logits.size(), config_.n_vocab, options_.n_ctx, lengths);
  }

  // out [n, n_embd] = W_down(silu(W_gate h) * W_up h).
  static void swiglu_ffn(Backend& be, const WeightView& gate, const WeightView& up, const WeightView& down, const float* h,
                         int64_t n, float* out) {
    std::vector<float> g(static_cast<size_t>(n * gate.rows)), u(static_cast<size_t>(n * up.rows));  // [n, n_ff]
    be.matmul(gate, h, n, g.data());
    be.matmul(up, h, n, u.data());
    be.swiglu(g.data(), u.data(), g.data(), n * gate.rows);
    be.matmul(down, g.data(), n, out);
  }

  // Mixture of experts plus the shared expert: out [n, n_embd].
  void moe(Backend& be, const LayerWeights& l, const float* h, int64_t n, float* out) {
    const Deepseek2Config& c = config_;
    std::vector<float> router(static_cast<size_t>(n * c.n_expert));       // [n, n_expert]
    std::vector<int32_t> chosen(static_cast<size_t>(n * c.n_expert_used));  // [n, n_used]
    std::vector<float> weights(static_cast<size_t>(n * c.n_expert_used));   // [n, n_used]
    be.matmul(l.gate_inp, h, n, router.data());
    RouterParams rp = c.router;
    rp.selection_bias = l.exp_probs_b;
    route_experts(rp, router.data(), n, chosen.data(), weights.data());
    moe_experts_forward(be, l.experts, MoeShape{.n_embd = c.n_embd, .n_ff = c.n_ff_exp, .n_used = c.n_expert_used}, h, n,
                        chosen.data(), weights.data(), out);
    if (c.n_expert_shared > 0) {
      std::vector<float> shared(static_cast<size_t>(n * c.n_embd));  // [n, n_embd]
      swiglu_ffn(be, l.gate_sh, l.up_sh, l.down_sh, h, n, shared.data());
      for (size_t i = 0; i < shared.size(); ++i) out[i] += shared[i];
    }
  }

  void run_ubatch(const Batch& b, size_t start, size_t end, std::span<float> logits, size_t& logit_row) {
    const Deepseek2Config& c = config_;
    const int64_t n = static_cast<int64_t>(end - start);
    std::vector<float> x(static_cast<size_t>(n * c.n_embd));     // [n, n_embd] residual stream
    std::vector<float> h(static_cast<size_t>(n * c.n_embd));     // [n, n_embd] normalized input
    std::vector<float> proj(static_cast<size_t>(n * c.n_embd));  // [n, n_embd] block output
    for (int64_t t = 0; t < n; ++t) head_->get_row(token_embd_, b.tokens[start + t], x.data() + t * c.n_embd);

    for (int il = 0; il < c.n_layer; ++il) {
      const LayerWeights& l = layers_[static_cast<size_t>(il)];
      Backend& be = *layer_backends_[static_cast<size_t>(il)];
      be.rms_norm(x.data(), l.attn_norm, h.data(), n, c.n_embd, c.rms_eps);
      mla_attention(be, mla_, l.attn, mla_run_, *cache_, il, b, start, n, h.data(), proj.data());
      for (size_t i = 0; i < x.size(); ++i) x[i] += proj[i];

      be.rms_norm(x.data(), l.ffn_norm, h.data(), n, c.n_embd, c.rms_eps);
      if (l.moe) {
        moe(be, l, h.data(), n, proj.data());
      } else {
        swiglu_ffn(be, l.gate, l.up, l.down, h.data(), n, proj.data());
      }
      for (size_t i = 0; i < x.size(); ++i) x[i] += proj[i];
    }
    for (int64_t t = 0; t < n; ++t) {
      const int seq = b.seq_ids[start + t];
      cache_->set_length(seq, std::max(cache_->length(seq), b.positions[start + t] + 1));
    }

    std::vector<float> rows;  // [n_out, n_embd] rows that want logits
    for (int64_t t = 0; t < n; ++t) {
      if (!b.want_logits[start + t]) continue;
      rows.insert(rows.end(), x.begin() + t * c.n_embd, x.begin() + (t + 1) * c.n_embd);
    }
    const int64_t n_out = static_cast<int64_t>(rows.size()) / c.n_embd;
    if (n_out == 0) return;
    head_->rms_norm(rows.data(), output_norm_, rows.data(), n_out, c.n_embd, c.rms_eps);
    head_->matmul(output_, rows.data(), n_out, logits.data() + logit_row * c.n_vocab);
    logit_row += static_cast<size_t>(n_out);
  }

  Deepseek2Config config_;
  ModelOptions options_;
  ModelInfo info_;
  WeightView token_embd_, output_;
  const float* output_norm_ = nullptr;
  MlaShape mla_;
  MlaRun mla_run_;
  std::deque<std::vector<uint8_t>> derived_;  // legacy layout: k_b copied from attn_kv_b (views point here)
  std::vector<LayerWeights> layers_;
  Backend* head_ = nullptr;
  std::vector<Backend*> layer_backends_;
  std::unique_ptr<MlaCache> cache_;
};

}  // namespace

std::unique_ptr<Model> make_deepseek2(const GgufSet& file, const ModelOptions& options, const Placement& placement) {
  return std::make_unique<Deepseek2>(file, options, placement);
}

}  // namespace r1
