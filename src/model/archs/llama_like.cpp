// Llama-like forward pass. Reference: the Hugging Face LlamaForCausalLM / Qwen2ForCausalLM modeling files;
// numerics follow llama.cpp where its choices change results (activation rounding, flash attention).
#include "llama_like.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "backend.h"
#include "error.h"
#include "kv_cache.h"
#include "model_weights.h"

namespace r1 {
namespace {

struct LlamaConfig {
  std::string arch;
  int n_layer = 0;
  int64_t n_embd = 0;
  int64_t n_ff = 0;
  int n_head = 0;
  int n_head_kv = 0;
  int head_dim_k = 0;
  int head_dim_v = 0;
  int64_t n_vocab = 0;
  int64_t n_ctx_train = 0;
  float rms_eps = 1e-5f;
  RopeParams rope;
};

LlamaConfig read_config(const GgufSet& file) {
  const GgufMetadata& m = file.metadata();
  LlamaConfig c;
  c.arch = m.get_string("general.architecture");
  const std::string a = c.arch + ".";
  c.n_layer = static_cast<int>(m.get_u32(a + "block_count"));
  c.n_embd = static_cast<int64_t>(m.get_u32(a + "embedding_length"));
  c.n_ff = static_cast<int64_t>(m.get_u32(a + "feed_forward_length"));
  c.n_head = static_cast<int>(m.get_u32(a + "attention.head_count"));
  c.n_head_kv = static_cast<int>(m.find_uint(a + "attention.head_count_kv").value_or(static_cast<uint64_t>(c.n_head)));
  if (c.n_layer <= 0 || c.n_embd <= 0 || c.n_head <= 0 || c.n_head_kv <= 0 || c.n_head % c.n_head_kv != 0 ||
      c.n_layer > 4096 || c.n_head > 4096) {
    throw Error(fmt::format("implausible hyperparameters: {} layers, {} heads, {} KV heads", c.n_layer, c.n_head,
                            c.n_head_kv))
        .file(file.parts().front().path());
  }
  const int64_t default_head_dim = c.n_embd / c.n_head;
  c.head_dim_k = static_cast<int>(m.find_uint(a + "attention.key_length").value_or(static_cast<uint64_t>(default_head_dim)));
  c.head_dim_v = static_cast<int>(m.find_uint(a + "attention.value_length").value_or(static_cast<uint64_t>(default_head_dim)));
  c.n_ctx_train = static_cast<int64_t>(m.find_uint(a + "context_length").value_or(4096));
  c.rms_eps = static_cast<float>(m.find_float(a + "attention.layer_norm_rms_epsilon").value_or(1e-5));
  c.rope.n_rot = static_cast<int>(m.find_uint(a + "rope.dimension_count").value_or(static_cast<uint64_t>(c.head_dim_k)));
  c.rope.freq_base = static_cast<float>(m.find_float(a + "rope.freq_base").value_or(10000.0));
  // Qwen2 rotates the two halves of each head (NEOX style); Llama rotates neighbouring pairs.
  c.rope.style = c.arch == "qwen2" ? RopeStyle::kNeox : RopeStyle::kNormal;
  if (auto type = m.find_string(a + "rope.scaling.type"); type && *type == "linear") {
    c.rope.freq_scale = 1.0f / static_cast<float>(m.get_float(a + "rope.scaling.factor"));
  }
  if (c.rope.n_rot <= 0 || c.rope.n_rot > c.head_dim_k || c.rope.n_rot % 2 != 0) {
    throw Error(fmt::format("rope dimension count {} does not fit head size {}", c.rope.n_rot, c.head_dim_k))
        .file(file.parts().front().path());
  }
  const GgufSet::Tensor* embd = file.find_tensor("token_embd.weight");
  if (embd == nullptr) throw Error("required tensor is missing").file(file.parts().front().path()).tensor("token_embd.weight");
  c.n_vocab = static_cast<int64_t>(embd->info->n_dims >= 2 ? embd->info->dims[1] : 0);
  return c;
}

struct LayerWeights {
  const float* attn_norm = nullptr;
  WeightView wq, wk, wv, wqkv, wo;
  bool fused_qkv = false;
  const float* bq = nullptr;
  const float* bk = nullptr;
  const float* bv = nullptr;
  const float* bqkv = nullptr;
  const float* ffn_norm = nullptr;
  WeightView gate, up, down;
};

class LlamaLike final : public Model {
 public:
  LlamaLike(const GgufSet& file, const ModelOptions& options, const Placement& placement)
      : config_(read_config(file)), options_(options) {
    const LlamaConfig& c = config_;
    const WeightBinder wb(file);
    token_embd_ = wb.matrix("token_embd.weight", c.n_embd, c.n_vocab);
    output_norm_ = wb.vector("output_norm.weight", c.n_embd);
    output_ = wb.has("output.weight") ? wb.matrix("output.weight", c.n_embd, c.n_vocab) : token_embd_;  // tied
    c_rope_freqs_ = wb.optional_vector("rope_freqs.weight", c.rope.n_rot / 2);
    config_.rope.freq_factors = c_rope_freqs_;
    const int64_t q_dim = static_cast<int64_t>(c.n_head) * c.head_dim_k;
    const int64_t k_dim = static_cast<int64_t>(c.n_head_kv) * c.head_dim_k;
    const int64_t v_dim = static_cast<int64_t>(c.n_head_kv) * c.head_dim_v;
    for (int il = 0; il < c.n_layer; ++il) {
      const std::string p = "blk." + std::to_string(il) + ".";
      LayerWeights l;
      l.attn_norm = wb.vector(p + "attn_norm.weight", c.n_embd);
      if (wb.has(p + "attn_qkv.weight")) {
        l.fused_qkv = true;
        l.wqkv = wb.matrix(p + "attn_qkv.weight", c.n_embd, q_dim + k_dim + v_dim);
        l.bqkv = wb.optional_vector(p + "attn_qkv.bias", q_dim + k_dim + v_dim);
      } else {
        l.wq = wb.matrix(p + "attn_q.weight", c.n_embd, q_dim);
        l.wk = wb.matrix(p + "attn_k.weight", c.n_embd, k_dim);
        l.wv = wb.matrix(p + "attn_v.weight", c.n_embd, v_dim);
        l.bq = wb.optional_vector(p + "attn_q.bias", q_dim);
        l.bk = wb.optional_vector(p + "attn_k.bias", k_dim);
        l.bv = wb.optional_vector(p + "attn_v.bias", v_dim);
      }
      l.wo = wb.matrix(p + "attn_output.weight", static_cast<int64_t>(c.n_head) * c.head_dim_v, c.n_embd);
      l.ffn_norm = wb.vector(p + "ffn_norm.weight", c.n_embd);
      l.gate = wb.matrix(p + "ffn_gate.weight", c.n_embd, c.n_ff);
      l.up = wb.matrix(p + "ffn_up.weight", c.n_embd, c.n_ff);
      l.down = wb.matrix(p + "ffn_down.weight", c.n_ff, c.n_embd);
      layers_.push_back(l);
    }
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
    cache_ = std::make_unique<KvCache>(KvCache::Shape{.n_layer = c.n_layer,
                                                      .n_seq = options.n_seq,
                                                      .n_ctx = options.n_ctx,
                                                      .k_dim = k_dim,
                                                      .v_dim = v_dim,
                                                      .k_type = options.cache_type_k,
                                                      .v_type = options.cache_type_v});
    info_.architecture = c.arch;
    info_.n_vocab = c.n_vocab;
    info_.n_ctx_train = c.n_ctx_train;
    info_.n_layer = c.n_layer;
    info_.n_embd = c.n_embd;
    info_.kv_bytes_per_token = cache_->bytes_per_token();
    info_.kv_cache_layout = fmt::format("K {} ({}) + V {} ({}) values x {} layers", k_dim,
                                        type_info(options.cache_type_k).name, v_dim,
                                        type_info(options.cache_type_v).name, c.n_layer);
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
  void validate(const Batch& b, std::span<float> logits) const {
    std::vector<int32_t> lengths(static_cast<size_t>(options_.n_seq));
    for (int s = 0; s < options_.n_seq; ++s) lengths[static_cast<size_t>(s)] = cache_->length(s);
    validate_batch(b, logits.size(), config_.n_vocab, options_.n_ctx, lengths);
  }

  void run_ubatch(const Batch& b, size_t start, size_t end, std::span<float> logits, size_t& logit_row) {
    const LlamaConfig& c = config_;
    const int64_t n = static_cast<int64_t>(end - start);
    const int64_t q_dim = static_cast<int64_t>(c.n_head) * c.head_dim_k;
    const int64_t k_dim = static_cast<int64_t>(c.n_head_kv) * c.head_dim_k;
    const int64_t v_dim = static_cast<int64_t>(c.n_head_kv) * c.head_dim_v;
    const int64_t o_dim = static_cast<int64_t>(c.n_head) * c.head_dim_v;

    std::vector<float> x(static_cast<size_t>(n * c.n_embd));      // [n, n_embd] residual stream
    std::vector<float> h(static_cast<size_t>(n * c.n_embd));      // [n, n_embd] normalized input
    std::vector<float> q(static_cast<size_t>(n * q_dim));         // [n, n_head, head_dim_k]
    std::vector<float> k(static_cast<size_t>(n * k_dim));         // [n, n_head_kv, head_dim_k]
    std::vector<float> v(static_cast<size_t>(n * v_dim));         // [n, n_head_kv, head_dim_v]
    std::vector<float> qkv;                                       // [n, q_dim + k_dim + v_dim] (fused layout)
    std::vector<float> attn(static_cast<size_t>(n * o_dim));      // [n, n_head, head_dim_v]
    std::vector<AttentionRow> attn_rows;                          // [n] query rows for be.attention
    std::vector<float> proj(static_cast<size_t>(n * c.n_embd));   // [n, n_embd]
    std::vector<float> gate(static_cast<size_t>(n * c.n_ff));     // [n, n_ff]
    std::vector<float> up(static_cast<size_t>(n * c.n_ff));       // [n, n_ff]

    for (int64_t t = 0; t < n; ++t) head_->get_row(token_embd_, b.tokens[start + t], x.data() + t * c.n_embd);

    const AttentionParams ap{.n_head = c.n_head,
                             .n_head_kv = c.n_head_kv,
                             .head_dim_k = c.head_dim_k,
                             .head_dim_v = c.head_dim_v,
                             .scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim_k)),
                             .k_type = options_.cache_type_k,
                             .v_type = options_.cache_type_v,
                             .flash = options_.flash_attention};

    for (int il = 0; il < c.n_layer; ++il) {
      const LayerWeights& l = layers_[static_cast<size_t>(il)];
      Backend& be = *layer_backends_[static_cast<size_t>(il)];

      // Attention block: h = rms_norm(x) * g; q, k, v projections (+ biases); rope on q and k.
      be.rms_norm(x.data(), l.attn_norm, h.data(), n, c.n_embd, c.rms_eps);
      trace("attn_norm", il, h);
      if (l.fused_qkv) {
        qkv.resize(static_cast<size_t>(n * (q_dim + k_dim + v_dim)));
        be.matmul(l.wqkv, h.data(), n, qkv.data());
        for (int64_t t = 0; t < n; ++t) {
          const float* row = qkv.data() + t * (q_dim + k_dim + v_dim);
          for (int64_t i = 0; i < q_dim + k_dim + v_dim; ++i) {
            const float val = row[i] + (l.bqkv ? l.bqkv[i] : 0.0f);
            if (i < q_dim) q[static_cast<size_t>(t * q_dim + i)] = val;
            else if (i < q_dim + k_dim) k[static_cast<size_t>(t * k_dim + i - q_dim)] = val;
            else v[static_cast<size_t>(t * v_dim + i - q_dim - k_dim)] = val;
          }
        }
      } else {
        be.matmul(l.wq, h.data(), n, q.data());
        be.matmul(l.wk, h.data(), n, k.data());
        be.matmul(l.wv, h.data(), n, v.data());
        add_bias(q.data(), l.bq, n, q_dim);
        add_bias(k.data(), l.bk, n, k_dim);
        add_bias(v.data(), l.bv, n, v_dim);
      }
      for (int64_t t = 0; t < n; ++t) {
        const int64_t pos = b.positions[start + t];
        be.rope(q.data() + t * q_dim, c.n_head, c.head_dim_k, pos, c.rope);
        be.rope(k.data() + t * k_dim, c.n_head_kv, c.head_dim_k, pos, c.rope);
        const int seq = b.seq_ids[start + t];
        cache_->store_k(il, seq, static_cast<int>(pos), k.data() + t * k_dim);
        cache_->store_v(il, seq, static_cast<int>(pos), v.data() + t * v_dim);
      }
      trace("Qcur", il, q);
      trace("Kcur", il, k);
      trace("Vcur", il, v);
      // Causal attention over the sequence's cache, this ubatch's own keys included (read back through the
      // cache type, so prefilling equals decoding one token at a time).
      attn_rows.resize(static_cast<size_t>(n));
      for (int64_t t = 0; t < n; ++t) {
        const int seq = b.seq_ids[start + t];
        attn_rows[static_cast<size_t>(t)] = {q.data() + t * q_dim, cache_->k_row(il, seq, 0),
                                             cache_->v_row(il, seq, 0), b.positions[start + t] + 1,
                                             attn.data() + t * o_dim};
      }
      be.attention(ap, attn_rows.data(), n, cache_->k_row_bytes(), cache_->v_row_bytes());
      trace("kqv_out", il, attn);
      be.matmul(l.wo, attn.data(), n, proj.data());
      for (size_t i = 0; i < x.size(); ++i) x[i] += proj[i];
      trace("ffn_inp", il, x);

      // Feed-forward: x += W_down(silu(W_gate h) * W_up h), h = rms_norm(x) * g.
      be.rms_norm(x.data(), l.ffn_norm, h.data(), n, c.n_embd, c.rms_eps);
      be.matmul(l.gate, h.data(), n, gate.data());
      be.matmul(l.up, h.data(), n, up.data());
      be.swiglu(gate.data(), up.data(), gate.data(), n * c.n_ff);
      trace("ffn_swiglu", il, gate);
      be.matmul(l.down, gate.data(), n, proj.data());
      trace("ffn_out", il, proj);
      for (size_t i = 0; i < x.size(); ++i) x[i] += proj[i];
      trace("l_out", il, x);
    }
    for (int64_t t = 0; t < n; ++t) {
      const int seq = b.seq_ids[start + t];
      cache_->set_length(seq, std::max(cache_->length(seq), b.positions[start + t] + 1));
    }

    // Output head, only for the rows that want logits.
    std::vector<float> rows;
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

  void trace(const char* name, int layer, const std::vector<float>& values) const {
    if (options_.trace) options_.trace(std::string(name) + "-" + std::to_string(layer), values.data(), values.size());
  }

  static void add_bias(float* y, const float* bias, int64_t n, int64_t dim) {
    if (bias == nullptr) return;
    for (int64_t t = 0; t < n; ++t) {
      for (int64_t i = 0; i < dim; ++i) y[t * dim + i] += bias[i];
    }
  }

  LlamaConfig config_;
  ModelOptions options_;
  ModelInfo info_;
  WeightView token_embd_, output_;
  const float* output_norm_ = nullptr;
  const float* c_rope_freqs_ = nullptr;
  std::vector<LayerWeights> layers_;
  Backend* head_ = nullptr;
  std::vector<Backend*> layer_backends_;
  std::unique_ptr<KvCache> cache_;
};

}  // namespace

std::unique_ptr<Model> make_llama_like(const GgufSet& file, const ModelOptions& options, const Placement& placement) {
  return std::make_unique<LlamaLike>(file, options, placement);
}

}  // namespace r1
