// ModelProfile arithmetic and the two ways to build one: from a tensor list, and from a GGUF file's headers.
#include "plan_profile.h"

#include <algorithm>
#include <charconv>

#include "error.h"
#include "file_types.h"

namespace r1::plan {
namespace {

bool contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

// "blk.12.attn_q.weight" → 12; -1 for tensors outside the blocks.
int block_index(std::string_view name) {
  if (name.substr(0, 4) != "blk.") return -1;
  int index = -1;
  const auto* begin = name.data() + 4;
  const auto [end, ec] = std::from_chars(begin, name.data() + name.size(), index);
  if (ec != std::errc() || end == begin || *end != '.') return -1;
  return index;
}

// An unsigned metadata value; arrays (per-layer values) give their maximum; missing gives fallback.
uint64_t meta_uint(const GgufMetadata& m, const std::string& key, uint64_t fallback) {
  const GgufValue* v = m.find(key);
  if (v == nullptr) return fallback;
  if (v->type() == GgufType::kArray) {
    const std::vector<int64_t> values = m.get_int_array(key);
    if (values.empty()) return fallback;
    return static_cast<uint64_t>(std::max<int64_t>(0, *std::max_element(values.begin(), values.end())));
  }
  return m.get_uint(key);
}

}  // namespace

uint64_t ModelProfile::weight_bytes() const {
  uint64_t total = embed_bytes + output_bytes + other_bytes;
  for (const LayerWeights& l : layers) total += l.bytes();
  return total;
}

uint64_t ModelProfile::n_params() const {
  uint64_t total = embed_params + output_params + other_params;
  for (const LayerWeights& l : layers) total += l.attn_params + l.ffn_params + l.expert_params;
  return total;
}

double ModelProfile::expert_fraction() const {
  if (shape.n_expert <= 0) return 0.0;
  return static_cast<double>(shape.n_expert_used) / shape.n_expert;
}

double ModelProfile::active_params() const {
  double total = static_cast<double>(output_params);
  for (const LayerWeights& l : layers) {
    total += static_cast<double>(l.attn_params + l.ffn_params) + expert_fraction() * l.expert_params;
  }
  return total;
}

uint64_t ModelProfile::kv_bytes_per_token(GgmlType cache_type) const {
  const TypeInfo& t = type_info(cache_type);
  const auto bytes = [&t](int64_t n) {
    // Rows that the type's blocks cannot hold are stored at F16 (as the engine does for odd head sizes).
    return row_bytes(t, static_cast<uint64_t>(n)).value_or(static_cast<uint64_t>(n) * 2);
  };
  if (shape.mla) {
    // One latent row per token and layer: c_kv [kv_lora_rank] then k_pe [n_rot] (mla_cache.h).
    return static_cast<uint64_t>(shape.n_layer) * bytes(shape.kv_lora_rank + shape.n_rot);
  }
  const int64_t k = static_cast<int64_t>(shape.n_head_kv) * shape.head_dim_k;
  const int64_t v = static_cast<int64_t>(shape.n_head_kv) * shape.head_dim_v;
  return static_cast<uint64_t>(shape.n_layer) * (bytes(k) + bytes(v));
}

double ModelProfile::attn_flops_per_position() const {
  // Per head and cached position: a dot product for the score (2·d_k FLOPs) and a multiply-add of the value
  // (2·d_v). With MLA in absorbed form (weights folded into the query and output), scores run over the
  // latent + rope width and values over the latent width.
  const double d_k = shape.mla ? static_cast<double>(shape.kv_lora_rank + shape.n_rot) : shape.head_dim_k;
  const double d_v = shape.mla ? static_cast<double>(shape.kv_lora_rank) : shape.head_dim_v;
  return 2.0 * shape.n_layer * shape.n_head * (d_k + d_v);
}

ModelProfile profile_from_tensors(std::string name, std::string quant, const ModelShapeFacts& shape,
                                  const std::vector<PlanTensor>& tensors) {
  if (shape.n_layer <= 0 || shape.n_layer > 4096) throw Error(fmt::format("implausible layer count {}", shape.n_layer));
  ModelProfile p;
  p.name = std::move(name);
  p.quant = std::move(quant);
  p.shape = shape;
  p.layers.resize(static_cast<size_t>(shape.n_layer));
  BytesByType embed_types;  // joins output_types when the embedding is also the output projection (tied)
  for (const PlanTensor& t : tensors) {
    const int layer = block_index(t.name);
    if (layer < 0) {
      if (t.name == "token_embd.weight") {
        p.embed_bytes += t.n_bytes;
        p.embed_params += t.n_elements;
        embed_types[t.type] += t.n_bytes;
      } else if (t.name.rfind("output", 0) == 0) {  // output.weight, output_norm.weight
        p.output_bytes += t.n_bytes;
        p.output_params += t.n_elements;
        p.output_types[t.type] += t.n_bytes;
      } else {
        p.other_bytes += t.n_bytes;
        p.other_params += t.n_elements;
      }
      continue;
    }
    if (layer >= shape.n_layer) {  // next-token-prediction blocks: in the file, not run when decoding
      p.other_bytes += t.n_bytes;
      p.other_params += t.n_elements;
      continue;
    }
    LayerWeights& l = p.layers[static_cast<size_t>(layer)];
    if (contains(t.name, "_exps")) {
      l.expert_bytes += t.n_bytes;
      l.expert_params += t.n_elements;
      l.expert_types[t.type] += t.n_bytes;
      continue;
    }
    if (contains(t.name, ".attn_")) {
      l.attn_bytes += t.n_bytes;
      l.attn_params += t.n_elements;
    } else {
      l.ffn_bytes += t.n_bytes;
      l.ffn_params += t.n_elements;
    }
    l.dense_types[t.type] += t.n_bytes;
  }
  // Tied embeddings (no output.weight): the output projection reads the embedding matrix every token.
  const bool has_output_matrix = std::any_of(tensors.begin(), tensors.end(),
                                             [](const PlanTensor& t) { return t.name == "output.weight"; });
  if (!has_output_matrix) {
    p.output_bytes += p.embed_bytes;
    p.output_params += p.embed_params;
    for (const auto& [type, n] : embed_types) p.output_types[type] += n;
  }
  return p;
}

ModelProfile profile_from_gguf(const GgufSet& set) {
  const GgufMetadata& m = set.metadata();
  const std::string path = set.parts().front().path();
  ModelShapeFacts s;
  s.arch = m.find_string("general.architecture").value_or("");
  const std::string a = s.arch + ".";
  const bool llama_like = s.arch == "llama" || s.arch == "qwen2" || s.arch == "qwen3" || s.arch == "mistral";
  if (!llama_like && s.arch != "deepseek2") {
    throw Error(fmt::format("r1 plan does not know the architecture '{}' (llama, qwen2, qwen3, deepseek2)", s.arch))
        .file(path)
        .key("general.architecture");
  }
  try {
    s.n_layer = static_cast<int>(meta_uint(m, a + "block_count", 0) - meta_uint(m, a + "nextn_predict_layers", 0));
    s.n_embd = static_cast<int64_t>(meta_uint(m, a + "embedding_length", 0));
    s.n_head = static_cast<int>(meta_uint(m, a + "attention.head_count", 0));
    s.n_head_kv = static_cast<int>(meta_uint(m, a + "attention.head_count_kv", static_cast<uint64_t>(s.n_head)));
    s.n_ff = static_cast<int64_t>(meta_uint(m, a + "feed_forward_length", 0));
    s.n_ctx_train = static_cast<int64_t>(meta_uint(m, a + "context_length", 4096));
    s.n_expert = static_cast<int>(meta_uint(m, a + "expert_count", 0));
    s.n_expert_used = static_cast<int>(meta_uint(m, a + "expert_used_count", 0));
    s.n_ff_expert = static_cast<int64_t>(meta_uint(m, a + "expert_feed_forward_length", 0));
    if (s.arch == "deepseek2") {
      s.mla = true;
      s.kv_lora_rank = static_cast<int64_t>(meta_uint(m, a + "attention.kv_lora_rank", 0));
      s.n_rot = static_cast<int64_t>(meta_uint(m, a + "rope.dimension_count", 0));
      // Split layout: *_mla keys hold the per-head sizes; legacy layout: key_length / value_length.
      s.head_dim_k = static_cast<int>(
          meta_uint(m, a + "attention.key_length_mla", meta_uint(m, a + "attention.key_length", 0)));
      s.head_dim_v = static_cast<int>(
          meta_uint(m, a + "attention.value_length_mla", meta_uint(m, a + "attention.value_length", 0)));
      s.n_head_kv = s.n_head;
    } else {
      const uint64_t head_dim = s.n_head > 0 ? static_cast<uint64_t>(s.n_embd / s.n_head) : 0;
      s.head_dim_k = static_cast<int>(meta_uint(m, a + "attention.key_length", head_dim));
      s.head_dim_v = static_cast<int>(meta_uint(m, a + "attention.value_length", head_dim));
    }
  } catch (Error& e) {
    e.file(path);
    throw;
  }
  if (s.n_layer <= 0 || s.n_embd <= 0 || s.n_head <= 0 || s.n_head_kv <= 0 || (s.mla && s.kv_lora_rank <= 0)) {
    throw Error(fmt::format("implausible shape for planning: {} layers, width {}, {} heads, {} KV heads", s.n_layer,
                            s.n_embd, s.n_head, s.n_head_kv))
        .file(path);
  }
  std::vector<PlanTensor> tensors;
  tensors.reserve(set.tensors().size());
  for (const GgufSet::Tensor& t : set.tensors()) {
    tensors.push_back({t.info->name, t.info->n_elements, t.info->n_bytes, t.info->type->type});
    if (t.info->name == "token_embd.weight" && t.info->n_dims >= 2) s.n_vocab = static_cast<int64_t>(t.info->dims[1]);
  }
  std::string quant;
  if (const auto ft = m.find_int("general.file_type")) quant = std::string(file_type_name(*ft));
  if (quant.empty()) quant = "mixed";
  ModelProfile p = profile_from_tensors(path, quant, s, tensors);
  p.file_bytes = set.total_file_bytes();
  return p;
}

}  // namespace r1::plan
