// Per-architecture planning for `r1 convert` (see convert_arch.h). Key names, tensor names and layouts are
// the facts of llama.cpp's converter (convert_hf_to_gguf.py, gguf-py constants and tensor_mapping); the key
// order follows the tiny fixture models, which in turn follow llama.cpp's.
#include "convert_arch.h"

#include <cmath>
#include <cstring>
#include <memory>
#include <numbers>

#include <fmt/format.h>

#include "check.h"
#include "error.h"
#include "llama3_rope.h"

namespace r1 {

// ---- HfConfig --------------------------------------------------------------------------------------------

const nlohmann::json* HfConfig::find(const std::string& key) const {
  const auto it = json_.find(key);
  if (it == json_.end() || it->is_null()) return nullptr;
  return &*it;
}

bool HfConfig::has(const std::string& key) const { return find(key) != nullptr; }

int64_t HfConfig::get_int(const std::string& key) const {
  const nlohmann::json* v = find(key);
  if (v == nullptr) throw Error("missing in config.json").file(path_).key(key);
  if (v->is_number_integer()) return v->get<int64_t>();
  if (v->is_number_float()) {
    const double d = v->get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15) return static_cast<int64_t>(d);
  }
  throw Error(fmt::format("expected an integer, found {}", v->dump().substr(0, 80))).file(path_).key(key);
}

int64_t HfConfig::get_int(const std::string& key, int64_t fallback) const { return has(key) ? get_int(key) : fallback; }

double HfConfig::get_float(const std::string& key) const {
  const nlohmann::json* v = find(key);
  if (v == nullptr) throw Error("missing in config.json").file(path_).key(key);
  if (!v->is_number()) throw Error(fmt::format("expected a number, found {}", v->dump().substr(0, 80))).file(path_).key(key);
  return v->get<double>();
}

double HfConfig::get_float(const std::string& key, double fallback) const { return has(key) ? get_float(key) : fallback; }

bool HfConfig::get_bool(const std::string& key, bool fallback) const {
  const nlohmann::json* v = find(key);
  if (v == nullptr) return fallback;
  if (!v->is_boolean()) throw Error("expected true or false").file(path_).key(key);
  return v->get<bool>();
}

std::string HfConfig::get_string(const std::string& key, const std::string& fallback) const {
  const nlohmann::json* v = find(key);
  if (v == nullptr) return fallback;
  if (!v->is_string()) throw Error("expected a string").file(path_).key(key);
  return v->get<std::string>();
}

// ---- TensorSource ----------------------------------------------------------------------------------------

namespace {

std::string shape_text(const std::vector<uint64_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

}  // namespace

void TensorSource::require(const std::string& name, const std::vector<uint64_t>& shape) {
  const SafetensorsSet::Entry e = set_->find(name);
  if (e.file == nullptr) throw Error("tensor is missing from the checkpoint").tensor(name);
  if (e.tensor->shape != shape) {
    throw Error(fmt::format("has shape {} but config.json implies {}", shape_text(e.tensor->shape), shape_text(shape)))
        .file(e.file->path()).tensor(name);
  }
  if (!safetensors_dtype_is_float(e.tensor->dtype)) {
    throw Error(fmt::format("dtype {} is not a floating-point type", safetensors_dtype_name(e.tensor->dtype)))
        .file(e.file->path()).tensor(name);
  }
  used_.insert(name);
  const std::string scale_name = name + "_scale_inv";
  if (e.tensor->dtype == SafetensorsDtype::kF8_E4M3 && set_->contains(scale_name)) {
    if (shape.size() != 2) throw Error("FP8 block scales on a tensor that is not 2-D").tensor(name);
    const SafetensorsSet::Entry s = set_->find(scale_name);
    const std::vector<uint64_t> want = {(shape[0] + 127) / 128, (shape[1] + 127) / 128};
    if (s.tensor->shape != want || !safetensors_dtype_is_float(s.tensor->dtype)) {
      throw Error(fmt::format("block-scale tensor has shape {} ({}), expected {} of a float type",
                              shape_text(s.tensor->shape), safetensors_dtype_name(s.tensor->dtype), shape_text(want)))
          .file(s.file->path()).tensor(scale_name);
    }
    used_.insert(scale_name);
  }
}

void TensorSource::read(const std::string& name, float* out) const {
  const SafetensorsSet::Entry e = set_->find(name);
  R1_CHECK(e.file != nullptr);  // require() ran during planning
  read_rows(name, 0, e.tensor->shape.empty() ? 1 : e.tensor->shape[0], out);
}

void TensorSource::read_rows(const std::string& name, uint64_t row0, uint64_t n_rows, float* out) const {
  const SafetensorsSet::Entry e = set_->find(name);
  R1_CHECK(e.file != nullptr);  // require() ran during planning
  const SafetensorsTensor& t = *e.tensor;
  const uint64_t rows = t.shape.empty() ? 1 : t.shape[0];
  const uint64_t cols = rows == 0 ? 0 : t.n_elements / rows;
  R1_CHECK(row0 <= rows && n_rows <= rows - row0);
  const uint32_t size = safetensors_dtype_size(t.dtype);
  safetensors_to_f32(t.dtype, e.file->data(t).data() + row0 * cols * size, out, n_rows * cols);
  const std::string scale_name = name + "_scale_inv";
  if (t.dtype != SafetensorsDtype::kF8_E4M3 || !set_->contains(scale_name)) return;
  // DeepSeek FP8: weight[r][c] * scale_inv[r / 128][c / 128] (the scale "inverse" is what dequantizes).
  const SafetensorsSet::Entry s = set_->find(scale_name);
  std::vector<float> scales(s.tensor->n_elements);
  safetensors_to_f32(s.tensor->dtype, s.file->data(*s.tensor).data(), scales.data(), scales.size());
  const uint64_t scale_cols = s.tensor->shape[1];
  for (uint64_t r = 0; r < n_rows; ++r) {
    for (uint64_t c = 0; c < cols; ++c) out[r * cols + c] *= scales[((row0 + r) / 128) * scale_cols + c / 128];
  }
}

std::vector<std::string> TensorSource::unused() const {
  std::vector<std::string> out;
  for (const std::string& name : set_->names()) {
    if (!used_.count(name)) out.push_back(name);
  }
  return out;
}

namespace {

// ---- Planning helpers ------------------------------------------------------------------------------------

class Planner {
 public:
  Planner(const HfConfig& config, TensorSource* src, ArchPlan* plan) : config_(config), src_(src), plan_(plan) {}

  // A hyperparameter that sizes tensors: an integer in [1, 2^31).
  int64_t dim(const std::string& key) const {
    const int64_t v = config_.get_int(key);
    if (v < 1 || v >= (int64_t{1} << 31)) throw Error(fmt::format("{} is out of range", v)).file(config_.path()).key(key);
    return v;
  }
  int64_t dim(const std::string& key, int64_t fallback) const { return config_.has(key) ? dim(key) : fallback; }

  void key_u32(const std::string& key, int64_t v) {
    if (v < 0 || v > UINT32_MAX) throw Error(fmt::format("{} does not fit the GGUF key", v)).file(config_.path()).key(key);
    plan_->keys.emplace_back(plan_->arch + "." + key, GgufValue::u32(static_cast<uint32_t>(v)));
  }
  void key_f32(const std::string& key, double v) {
    plan_->keys.emplace_back(plan_->arch + "." + key, GgufValue::f32(static_cast<float>(v)));
  }
  void key_bool(const std::string& key, bool v) { plan_->keys.emplace_back(plan_->arch + "." + key, GgufValue::boolean(v)); }
  void key_string(const std::string& key, std::string v) {
    plan_->keys.emplace_back(plan_->arch + "." + key, GgufValue::string(std::move(v)));
  }

  // A 1-D or 2-D tensor copied as it is: HF shape [out, in] -> GGUF dims (in, out).
  void copy(const std::string& gguf, const std::string& hf, std::vector<uint64_t> shape) {
    src_->require(hf, shape);
    TensorSource* src = src_;
    plan_->tensors.push_back({gguf, {shape.rbegin(), shape.rend()}, [src, hf](uint64_t, float* out) { src->read(hf, out); }});
  }
  void copy_if_present(const std::string& gguf, const std::string& hf, std::vector<uint64_t> shape) {
    if (src_->contains(hf)) copy(gguf, hf, std::move(shape));
  }

  // llama's q/k rows: inside each head of d rows, HF's "rotate halves" order [r0..r(d/2-1) | r(d/2)..] becomes
  // the interleaved "rotate pairs" order r0, r(d/2), r1, r(d/2+1), ... (llama.cpp's permute()).
  void permuted(const std::string& gguf, const std::string& hf, uint64_t n_head, uint64_t head_dim, uint64_t cols) {
    const std::vector<uint64_t> shape = {n_head * head_dim, cols};
    src_->require(hf, shape);
    TensorSource* src = src_;
    plan_->tensors.push_back({gguf, {cols, n_head * head_dim}, [=](uint64_t, float* out) {
      std::vector<float> in(shape[0] * cols);
      src->read(hf, in.data());
      const uint64_t half = head_dim / 2;
      for (uint64_t h = 0; h < n_head; ++h) {
        for (uint64_t i = 0; i < half; ++i) {
          for (uint64_t j = 0; j < 2; ++j) {
            std::memcpy(out + (h * head_dim + 2 * i + j) * cols, in.data() + (h * head_dim + j * half + i) * cols,
                        cols * sizeof(float));
          }
        }
      }
    }});
  }

  // n 2-D HF tensors [rows, cols] stacked into GGUF dims (cols, rows, n): the experts.
  void stacked(const std::string& gguf, std::vector<std::string> hf, uint64_t rows, uint64_t cols) {
    for (const std::string& name : hf) src_->require(name, {rows, cols});
    TensorSource* src = src_;
    const uint64_t n = hf.size();
    plan_->tensors.push_back({gguf, {cols, rows, n}, [src, hf = std::move(hf)](uint64_t slice, float* out) {
      src->read(hf[slice], out);
    }});
  }

  ArchPlan& plan() { return *plan_; }
  TensorSource& src() { return *src_; }
  const HfConfig& config() const { return config_; }

 private:
  const HfConfig& config_;
  TensorSource* src_;
  ArchPlan* plan_;
};

// rope_scaling (older configs) or rope_parameters (transformers 5); "rope_type" or the older "type".
const nlohmann::json* rope_scaling(const HfConfig& config) {
  for (const char* key : {"rope_scaling", "rope_parameters"}) {
    const auto it = config.json().find(key);
    if (it != config.json().end() && it->is_object()) return &*it;
  }
  return nullptr;
}

std::string rope_type(const nlohmann::json* rope) {
  if (rope == nullptr) return "";
  for (const char* key : {"rope_type", "type"}) {
    const auto it = rope->find(key);
    if (it != rope->end() && it->is_string()) return it->get<std::string>();
  }
  return "";
}

double rope_number(const HfConfig& config, const nlohmann::json& rope, const char* key, double fallback) {
  const auto it = rope.find(key);
  if (it == rope.end() || it->is_null()) return fallback;
  if (!it->is_number()) throw Error("expected a number").file(config.path()).key(std::string("rope_scaling.") + key);
  return it->get<double>();
}

// Linear and YaRN scaling keys, as llama.cpp's base converter writes them (llama3 is a tensor, see below).
void rope_scaling_keys(Planner& p) {
  const nlohmann::json* rope = rope_scaling(p.config());
  const std::string type = rope_type(rope);
  if (type.empty() || type == "default" || type == "llama3") return;
  const double factor = rope_number(p.config(), *rope, "factor", 0.0);
  if (type == "linear") {
    p.key_string("rope.scaling.type", "linear");
    p.key_f32("rope.scaling.factor", factor);
  } else if (type == "yarn") {
    p.key_string("rope.scaling.type", "yarn");
    p.key_f32("rope.scaling.factor", factor);
    const double orig = rope_number(p.config(), *rope, "original_max_position_embeddings", -1);
    if (orig < 1 || orig > UINT32_MAX) throw Error("YaRN needs original_max_position_embeddings").file(p.config().path()).key("rope_scaling");
    p.key_u32("rope.scaling.original_context_length", static_cast<int64_t>(orig));
    if (rope->contains("attention_factor")) p.key_f32("rope.scaling.attn_factor", rope_number(p.config(), *rope, "attention_factor", 1));
    if (rope->contains("beta_fast")) p.key_f32("rope.scaling.yarn_beta_fast", rope_number(p.config(), *rope, "beta_fast", 32));
    if (rope->contains("beta_slow")) p.key_f32("rope.scaling.yarn_beta_slow", rope_number(p.config(), *rope, "beta_slow", 1));
  } else {
    throw Error(fmt::format("rope scaling '{}' is not supported (linear, yarn, llama3)", type)).file(p.config().path()).key("rope_scaling");
  }
}

// The hyperparameters every decoder-only family shares, in llama.cpp's order.
void common_keys(Planner& p, int64_t n_layer_total, int64_t n_ff, int64_t n_head_kv) {
  const HfConfig& c = p.config();
  p.key_u32("block_count", n_layer_total);
  if (c.has("max_position_embeddings")) p.key_u32("context_length", c.get_int("max_position_embeddings"));
  p.key_u32("embedding_length", p.dim("hidden_size"));
  p.key_u32("feed_forward_length", n_ff);
  p.key_u32("attention.head_count", p.dim("num_attention_heads"));
  p.key_u32("attention.head_count_kv", n_head_kv);
  p.key_f32("rope.freq_base", c.get_float("rope_theta", 10000.0));
  p.key_f32("attention.layer_norm_rms_epsilon", c.get_float("rms_norm_eps", 1e-6));
}

// Llama 3.1 frequency scaling from config.json's rope_scaling (llama3_rope.h computes the divisors).
std::vector<float> llama3_rope_factors(const HfConfig& config, int64_t head_dim) {
  const nlohmann::json& rope = *rope_scaling(config);
  return llama3_rope_factors(
      Llama3RopeScaling{.freq_base = static_cast<float>(config.get_float("rope_theta", 10000.0)),
                        .factor = rope_number(config, rope, "factor", 8.0),
                        .low_freq_factor = rope_number(config, rope, "low_freq_factor", 1.0),
                        .high_freq_factor = rope_number(config, rope, "high_freq_factor", 4.0),
                        .original_context = rope_number(config, rope, "original_max_position_embeddings", 8192)},
      head_dim);
}

// ---- qwen2 and llama -------------------------------------------------------------------------------------

void plan_llama_like(Planner& p, bool is_llama) {
  const HfConfig& c = p.config();
  const int64_t n_layer = p.dim("num_hidden_layers");
  const int64_t n_embd = p.dim("hidden_size");
  const int64_t n_head = p.dim("num_attention_heads");
  const int64_t n_head_kv = p.dim("num_key_value_heads", n_head);
  const int64_t n_ff = p.dim("intermediate_size");
  const int64_t n_vocab = p.dim("vocab_size");
  if (n_embd % n_head != 0 && !c.has("head_dim")) throw Error("hidden_size is not a multiple of num_attention_heads").file(c.path());
  const int64_t head_dim = p.dim("head_dim", n_embd / n_head);
  if (n_head % n_head_kv != 0) throw Error("num_attention_heads is not a multiple of num_key_value_heads").file(c.path());
  p.plan().vocab_size = n_vocab;

  common_keys(p, n_layer, n_ff, n_head_kv);
  rope_scaling_keys(p);
  if (is_llama) {
    p.key_u32("vocab_size", n_vocab);
    p.key_u32("rope.dimension_count", head_dim);
  } else if (c.has("head_dim")) {
    p.key_u32("attention.key_length", head_dim);
    p.key_u32("attention.value_length", head_dim);
  }

  const uint64_t E = n_embd, F = n_ff, V = n_vocab, Q = n_head * head_dim, KV = n_head_kv * head_dim;
  if (is_llama && rope_type(rope_scaling(c)) == "llama3") {
    auto factors = std::make_shared<std::vector<float>>(llama3_rope_factors(c, head_dim));
    p.plan().tensors.push_back({"rope_freqs.weight", {factors->size()}, [factors](uint64_t, float* out) {
      std::memcpy(out, factors->data(), factors->size() * sizeof(float));
    }});
  }
  p.copy("token_embd.weight", "model.embed_tokens.weight", {V, E});
  for (int64_t l = 0; l < n_layer; ++l) {
    const std::string hf = fmt::format("model.layers.{}.", l);
    const std::string g = fmt::format("blk.{}.", l);
    p.copy(g + "attn_norm.weight", hf + "input_layernorm.weight", {E});
    if (is_llama) {
      p.permuted(g + "attn_q.weight", hf + "self_attn.q_proj.weight", n_head, head_dim, E);
      p.permuted(g + "attn_k.weight", hf + "self_attn.k_proj.weight", n_head_kv, head_dim, E);
    } else {
      p.copy(g + "attn_q.weight", hf + "self_attn.q_proj.weight", {Q, E});
      p.copy(g + "attn_q.bias", hf + "self_attn.q_proj.bias", {Q});
      p.copy(g + "attn_k.weight", hf + "self_attn.k_proj.weight", {KV, E});
      p.copy(g + "attn_k.bias", hf + "self_attn.k_proj.bias", {KV});
    }
    p.copy(g + "attn_v.weight", hf + "self_attn.v_proj.weight", {KV, E});
    if (!is_llama) p.copy(g + "attn_v.bias", hf + "self_attn.v_proj.bias", {KV});
    p.copy(g + "attn_output.weight", hf + "self_attn.o_proj.weight", {E, Q});
    p.copy(g + "ffn_norm.weight", hf + "post_attention_layernorm.weight", {E});
    p.copy(g + "ffn_gate.weight", hf + "mlp.gate_proj.weight", {F, E});
    p.copy(g + "ffn_up.weight", hf + "mlp.up_proj.weight", {F, E});
    p.copy(g + "ffn_down.weight", hf + "mlp.down_proj.weight", {E, F});
  }
  p.copy("output_norm.weight", "model.norm.weight", {E});
  if (!c.get_bool("tie_word_embeddings", false)) {
    p.copy("output.weight", "lm_head.weight", {V, E});
  } else if (p.src().contains("lm_head.weight")) {
    p.src().require("lm_head.weight", {V, E});  // tied: token_embd serves as the output (llama.cpp skips it)
  }
}

// ---- deepseek2 (DeepseekV3ForCausalLM / DeepseekV2ForCausalLM) --------------------------------------------

void plan_deepseek2(Planner& p, const ConvertOptions& options, const Logger& log) {
  const HfConfig& c = p.config();
  const int64_t n_layer = p.dim("num_hidden_layers");
  const int64_t n_embd = p.dim("hidden_size");
  const int64_t n_head = p.dim("num_attention_heads");
  const int64_t n_vocab = p.dim("vocab_size");
  const int64_t q_lora = c.has("q_lora_rank") ? p.dim("q_lora_rank") : 0;
  const int64_t kv_lora = p.dim("kv_lora_rank", 512);
  const int64_t n_nope = p.dim("qk_nope_head_dim");
  const int64_t n_rot = p.dim("qk_rope_head_dim");
  const int64_t n_v = p.dim("v_head_dim");
  const int64_t n_ff = p.dim("intermediate_size");
  const bool has_moe = c.has("n_routed_experts");
  const int64_t n_expert = has_moe ? p.dim("n_routed_experts") : 0;
  const int64_t n_ff_exp = has_moe ? p.dim("moe_intermediate_size") : n_ff;
  const int64_t n_shared = c.get_int("n_shared_experts", 0);
  const int64_t n_dense = c.get_int("first_k_dense_replace", has_moe ? 0 : n_layer);
  if (n_shared < 0 || n_shared > 64 || n_dense < 0 || n_dense > n_layer) {
    throw Error("implausible n_shared_experts or first_k_dense_replace").file(c.path());
  }
  if (n_rot % 2 != 0) throw Error("qk_rope_head_dim must be even").file(c.path()).key("qk_rope_head_dim");
  int64_t n_nextn = c.get_int("num_nextn_predict_layers", 0);
  if (n_nextn < 0 || n_nextn > 16) throw Error("implausible num_nextn_predict_layers").file(c.path()).key("num_nextn_predict_layers");
  const bool mtp_present = n_nextn > 0 && p.src().contains(fmt::format("model.layers.{}.eh_proj.weight", n_layer));
  if (n_nextn > 0 && !mtp_present) {
    log.info("config.json declares {} MTP layer(s) but the checkpoint holds none: converting the trunk only", n_nextn);
  }
  if (!mtp_present || !options.keep_mtp) n_nextn = 0;
  p.plan().vocab_size = n_vocab;

  // Keys, in llama.cpp's order: the shared ones (MLA converts to MQA: one KV head in the split layout).
  common_keys(p, n_layer + n_nextn, n_ff, options.mla_legacy ? n_head : 1);
  if (has_moe) p.key_u32("expert_used_count", p.dim("num_experts_per_tok"));
  if (c.has("n_group")) p.key_u32("expert_group_count", p.dim("n_group"));
  if (c.has("topk_group")) p.key_u32("expert_group_used_count", p.dim("topk_group"));
  if (c.has("scoring_func")) {
    const std::string f = c.get_string("scoring_func", "");
    if (f != "sigmoid" && f != "softmax") throw Error(fmt::format("scoring function '{}' is not supported", f)).file(c.path()).key("scoring_func");
    p.key_u32("expert_gating_func", f == "sigmoid" ? 2 : 1);
  }
  rope_scaling_keys(p);
  p.key_u32("leading_dense_block_count", n_dense);
  p.key_u32("vocab_size", n_vocab);
  if (q_lora > 0) p.key_u32("attention.q_lora_rank", q_lora);
  p.key_u32("attention.kv_lora_rank", kv_lora);
  if (options.mla_legacy) {
    p.key_u32("attention.key_length", n_nope + n_rot);
    p.key_u32("attention.value_length", n_v);
  } else {
    p.key_u32("attention.key_length", kv_lora + n_rot);
    p.key_u32("attention.value_length", kv_lora);
    p.key_u32("attention.key_length_mla", n_nope + n_rot);
    p.key_u32("attention.value_length_mla", n_v);
  }
  p.key_u32("expert_feed_forward_length", n_ff_exp);
  if (has_moe) p.key_u32("expert_count", n_expert);
  p.key_u32("expert_shared_count", n_shared);
  if (c.has("routed_scaling_factor")) p.key_f32("expert_weights_scale", c.get_float("routed_scaling_factor"));
  if (c.get_bool("norm_topk_prob", false)) p.key_bool("expert_weights_norm", true);
  p.key_u32("rope.dimension_count", n_rot);
  if (const nlohmann::json* rope = rope_scaling(c); rope != nullptr && rope->contains("mscale_all_dim")) {
    // llama.cpp stores 0.1 * mscale_all_dim here for deepseek2 (and divides by 0.1 when loading).
    p.key_f32("rope.scaling.yarn_log_multiplier", 0.1 * rope_number(c, *rope, "mscale_all_dim", 0.0));
  }
  if (n_nextn > 0) p.key_u32("nextn_predict_layers", n_nextn);

  // Tensors.
  const uint64_t E = n_embd, V = n_vocab, H = n_head, R = kv_lora, K = n_nope + n_rot, NOPE = n_nope, VD = n_v;
  p.copy("token_embd.weight", "model.embed_tokens.weight", {V, E});
  for (int64_t l = 0; l < n_layer + n_nextn; ++l) {
    const std::string hf = fmt::format("model.layers.{}.", l);
    const std::string g = fmt::format("blk.{}.", l);
    p.copy(g + "attn_norm.weight", hf + "input_layernorm.weight", {E});
    if (q_lora > 0) {
      p.copy(g + "attn_q_a.weight", hf + "self_attn.q_a_proj.weight", {static_cast<uint64_t>(q_lora), E});
      p.copy(g + "attn_q_a_norm.weight", hf + "self_attn.q_a_layernorm.weight", {static_cast<uint64_t>(q_lora)});
      p.copy(g + "attn_q_b.weight", hf + "self_attn.q_b_proj.weight", {H * K, static_cast<uint64_t>(q_lora)});
    } else {
      p.copy(g + "attn_q.weight", hf + "self_attn.q_proj.weight", {H * K, E});
    }
    p.copy(g + "attn_kv_a_mqa.weight", hf + "self_attn.kv_a_proj_with_mqa.weight", {R + n_rot, E});
    p.copy(g + "attn_kv_a_norm.weight", hf + "self_attn.kv_a_layernorm.weight", {R});
    const std::string kv_b = hf + "self_attn.kv_b_proj.weight";
    if (options.mla_legacy) {
      p.copy(g + "attn_kv_b.weight", kv_b, {H * (NOPE + VD), R});
    } else {
      // kv_b rows per head: NOPE key rows then VD value rows, each of R columns.
      // attn_k_b dims (NOPE, R, H): head h's key rows transposed; attn_v_b dims (R, VD, H): its value rows.
      p.src().require(kv_b, {H * (NOPE + VD), R});
      TensorSource* src = &p.src();
      auto load_head = [src, kv_b, NOPE, VD, R](uint64_t h) {
        std::vector<float> head((NOPE + VD) * R);
        src->read_rows(kv_b, h * (NOPE + VD), NOPE + VD, head.data());
        return head;
      };
      p.plan().tensors.push_back({g + "attn_k_b.weight", {NOPE, R, H}, [=](uint64_t h, float* out) {
        const std::vector<float> head = load_head(h);
        for (uint64_t r = 0; r < R; ++r) {
          for (uint64_t n = 0; n < NOPE; ++n) out[r * NOPE + n] = head[n * R + r];
        }
      }});
      p.plan().tensors.push_back({g + "attn_v_b.weight", {R, VD, H}, [=](uint64_t h, float* out) {
        const std::vector<float> head = load_head(h);
        std::memcpy(out, head.data() + NOPE * R, VD * R * sizeof(float));
      }});
    }
    p.copy(g + "attn_output.weight", hf + "self_attn.o_proj.weight", {E, H * VD});
    p.copy(g + "ffn_norm.weight", hf + "post_attention_layernorm.weight", {E});
    if (l < n_dense) {
      p.copy(g + "ffn_gate.weight", hf + "mlp.gate_proj.weight", {static_cast<uint64_t>(n_ff), E});
      p.copy(g + "ffn_up.weight", hf + "mlp.up_proj.weight", {static_cast<uint64_t>(n_ff), E});
      p.copy(g + "ffn_down.weight", hf + "mlp.down_proj.weight", {E, static_cast<uint64_t>(n_ff)});
    } else {
      const uint64_t X = n_expert, FE = n_ff_exp, FS = n_ff_exp * n_shared;
      p.copy(g + "ffn_gate_inp.weight", hf + "mlp.gate.weight", {X, E});
      p.copy_if_present(g + "exp_probs_b.bias", hf + "mlp.gate.e_score_correction_bias", {X});
      for (const auto& [gguf, proj] : {std::pair{"gate", "gate_proj"}, {"up", "up_proj"}, {"down", "down_proj"}}) {
        std::vector<std::string> names;
        for (uint64_t x = 0; x < X; ++x) names.push_back(fmt::format("{}mlp.experts.{}.{}.weight", hf, x, proj));
        const bool down = std::string(proj) == "down_proj";
        p.stacked(fmt::format("{}ffn_{}_exps.weight", g, gguf), std::move(names), down ? E : FE, down ? FE : E);
      }
      if (n_shared > 0) {
        p.copy(g + "ffn_gate_shexp.weight", hf + "mlp.shared_experts.gate_proj.weight", {FS, E});
        p.copy(g + "ffn_up_shexp.weight", hf + "mlp.shared_experts.up_proj.weight", {FS, E});
        p.copy(g + "ffn_down_shexp.weight", hf + "mlp.shared_experts.down_proj.weight", {E, FS});
      }
    }
    if (l >= n_layer) {  // multi-token-prediction layer: its extra tensors
      p.copy(g + "nextn.eh_proj.weight", hf + "eh_proj.weight", {E, 2 * E});
      p.copy_if_present(g + "nextn.embed_tokens.weight", hf + "embed_tokens.weight", {V, E});
      p.copy(g + "nextn.enorm.weight", hf + "enorm.weight", {E});
      p.copy(g + "nextn.hnorm.weight", hf + "hnorm.weight", {E});
      p.copy_if_present(g + "nextn.shared_head_head.weight", hf + "shared_head.head.weight", {V, E});
      p.copy_if_present(g + "nextn.shared_head_norm.weight", hf + "shared_head.norm.weight", {E});
    }
  }
  p.copy("output_norm.weight", "model.norm.weight", {E});
  if (!c.get_bool("tie_word_embeddings", false)) p.copy("output.weight", "lm_head.weight", {V, E});
}

}  // namespace

ArchPlan plan_architecture(const HfConfig& config, TensorSource* src, const ConvertOptions& options, const Logger& log) {
  std::string hf_arch;
  const auto it = config.json().find("architectures");
  if (it != config.json().end() && it->is_array() && !it->empty() && (*it)[0].is_string()) hf_arch = (*it)[0].get<std::string>();
  ArchPlan plan;
  Planner p(config, src, &plan);
  if (hf_arch == "Qwen2ForCausalLM") {
    plan.arch = "qwen2";
    plan_llama_like(p, false);
  } else if (hf_arch == "LlamaForCausalLM") {
    plan.arch = "llama";
    plan_llama_like(p, true);
  } else if (hf_arch == "DeepseekV3ForCausalLM" || hf_arch == "DeepseekV2ForCausalLM") {
    plan.arch = "deepseek2";
    plan_deepseek2(p, options, log);
  } else {
    throw Error(fmt::format("architecture '{}' is not supported (Qwen2ForCausalLM, LlamaForCausalLM, "
                            "DeepseekV3ForCausalLM, DeepseekV2ForCausalLM)", hf_arch.empty() ? "(none)" : hf_arch))
        .file(config.path()).key("architectures");
  }
  return plan;
}

}  // namespace r1
